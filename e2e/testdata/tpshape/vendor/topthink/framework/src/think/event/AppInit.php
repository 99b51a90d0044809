<?php
namespace think\event;

class AppInit
{
}
