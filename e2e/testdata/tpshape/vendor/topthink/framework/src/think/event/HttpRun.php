<?php
namespace think\event;

class HttpRun
{
}
