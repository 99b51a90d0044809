<?php
namespace think\event;

class RouteLoaded
{
}
