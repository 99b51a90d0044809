<?php
// Copied into a ThinkPHP project's app/controller by TestThinkPHPEvents
// (TP_ROOT=...): the controller that handles WebSocket events there.
namespace app\controller;

use app\BaseController;
use think\facade\Cookie;

class ThinkgateWsProbe extends BaseController
{
    public static int $started = 0;

    public function start()
    {
        self::$started++;
        return 'ok';
    }

    public function stop()
    {
        file_put_contents(getenv('TG_PROBE_LOG') ?: '/dev/null', 'stop ' . getmypid() . "\n", FILE_APPEND);
        return 'ok';
    }

    public function connect()
    {
        if ($this->request->get('deny')) {
            abort(403, 'go away');
        }
        return json(['type' => 'hello', 'client_id' => $this->request->header('x-thinkgate-client-id'),
            'room' => $this->request->get('room'), 'sid' => Cookie::get('sid'), 'started' => self::$started]);
    }

    public function hello()
    {
        \Thinkgate\Gateway::joinGroup($this->request->header('x-thinkgate-client-id'), 'tp');
        return 'hello ' . $this->request->param('name') . ' (' . $this->request->method() . ' ' . $this->request->pathinfo() . ')';
    }

    public function other()
    {
        return 'other: ' . $this->request->getContent();
    }

    public function close()
    {
        \Thinkgate\Gateway::sendToGroup('tp', 'left ' . $this->request->header('x-thinkgate-client-id'));
        return '';
    }
}
