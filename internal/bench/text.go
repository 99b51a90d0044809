package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
)

// textSender pushes through the Text port: one connection, a JSON line per
// call, the reply line read before the next.
type textSender struct {
	nc net.Conn
	r  *bufio.Reader
}

func dialText(addr string) (*textSender, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("text port: %w", err)
	}
	return &textSender{nc: nc, r: bufio.NewReader(nc)}, nil
}

func (t *textSender) sendToUid(uid, data string) error {
	line, _ := json.Marshal(map[string]string{"method": "sendToUid", "uid": uid, "data": data})
	if _, err := t.nc.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("text port: %w", err)
	}
	reply, err := t.r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("text port: %w", err)
	}
	if strings.Contains(reply, `"error"`) {
		return fmt.Errorf("text port: %s", strings.TrimSpace(reply))
	}
	return nil
}

func (t *textSender) close() { t.nc.Close() }
