<?php
namespace think\event;

class HttpEnd
{
}
