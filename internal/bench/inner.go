package bench

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"thinkgate/internal/clientid"
	"thinkgate/internal/gwcompat"
)

// innerClient makes calls the way PHP's GatewayClient does: a new TCP
// connection per call, the 202 auth packet first when a secret is set, then
// the request; fire-and-forget calls close at once, queries read one
// length-prefixed reply.
type innerClient struct {
	addr, secret string
}

func (c *innerClient) packet(cmd byte, conn uint32, ext, body string) []byte {
	var b []byte
	if c.secret != "" {
		auth, _ := json.Marshal(map[string]string{"secret_key": c.secret})
		b = (&gwcompat.Packet{Cmd: gwcompat.CmdGatewayClientConnect, Flag: gwcompat.FlagBodyIsScalar, Body: auth}).Append(b)
	}
	return (&gwcompat.Packet{Cmd: cmd, ConnID: conn, Flag: gwcompat.FlagBodyIsScalar, Ext: []byte(ext), Body: []byte(body)}).Append(b)
}

// send is a fire-and-forget call.
func (c *innerClient) send(cmd byte, conn uint32, ext, body string) error {
	nc, err := net.Dial("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("inner: %w", err)
	}
	defer nc.Close()
	_, err = nc.Write(c.packet(cmd, conn, ext, body))
	return err
}

// ask is a query; it returns the serialized reply.
func (c *innerClient) ask(cmd byte, conn uint32, ext string) ([]byte, error) {
	nc, err := net.Dial("tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("inner: %w", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(c.packet(cmd, conn, ext, "")); err != nil {
		return nil, err
	}
	var l [4]byte
	if _, err := io.ReadFull(nc, l[:]); err != nil {
		return nil, err
	}
	reply := make([]byte, binary.BigEndian.Uint32(l[:]))
	_, err = io.ReadFull(nc, reply)
	return reply, err
}

// innerRates runs GatewayClient-style calls from o.senders goroutines for d
// and returns fire-and-forget sendToUid calls per second and isOnline
// queries per second.
func innerRates(c *innerClient, ids []string, o options, d time.Duration) (sends, queries float64, err error) {
	conns := make([]uint32, len(ids))
	for i, id := range ids {
		parsed, perr := clientid.Parse(id)
		if perr != nil {
			return 0, 0, perr
		}
		conns[i] = parsed.Conn
	}
	run := func(call func(i int) error) (float64, error) {
		var n atomic.Int64
		var firstErr atomic.Value
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		for range o.senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					if err := call(rand.IntN(len(ids))); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		if err, _ := firstErr.Load().(error); err != nil {
			return 0, err
		}
		return float64(n.Load()) / d.Seconds(), nil
	}
	sends, err = run(func(i int) error {
		return c.send(gwcompat.CmdSendToUid, 0, fmt.Sprintf(`["u%d"]`, i), "x")
	})
	if err != nil {
		return 0, 0, err
	}
	queries, err = run(func(i int) error {
		reply, err := c.ask(gwcompat.CmdIsOnline, conns[i], "")
		if err == nil && string(reply) != "i:1;" {
			err = fmt.Errorf("isOnline answered %q", reply)
		}
		return err
	})
	return sends, queries, err
}
