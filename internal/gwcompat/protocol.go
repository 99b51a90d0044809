// Package gwcompat makes thinkgate a GatewayWorker gateway for unchanged PHP
// code: the Register listener that PHP's GatewayClient and BusinessWorker
// ask for gateway addresses, the inner listener that speaks GatewayWorker's
// 28-byte binary protocol with PHP-serialized replies, and the attachment of
// BusinessWorker processes that receive client events.
package gwcompat

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Command numbers of GatewayWorker's protocol (GatewayProtocol::CMD_*).
const (
	CmdOnConnect                  = 1
	CmdOnMessage                  = 3
	CmdOnClose                    = 4
	CmdSendToOne                  = 5
	CmdSendToAll                  = 6
	CmdKick                       = 7
	CmdDestroy                    = 8
	CmdUpdateSession              = 9
	CmdGetAllClientSessions       = 10
	CmdIsOnline                   = 11
	CmdBindUid                    = 12
	CmdUnbindUid                  = 13
	CmdSendToUid                  = 14
	CmdGetClientIdByUid           = 15
	CmdBatchGetClientIdByUid      = 16
	CmdJoinGroup                  = 20
	CmdLeaveGroup                 = 21
	CmdSendToGroup                = 22
	CmdGetClientSessionsByGroup   = 23
	CmdGetClientCountByGroup      = 24
	CmdSelect                     = 25
	CmdGetGroupIdList             = 26
	CmdUngroup                    = 27
	CmdBatchGetClientCountByGroup = 28
	CmdWorkerConnect              = 200
	CmdPing                       = 201
	CmdGatewayClientConnect       = 202
	CmdGetSessionByClientId       = 203
	CmdSetSession                 = 204
	CmdOnWebSocketConnect         = 205
)

// Flag bits (GatewayProtocol::FLAG_*).
const (
	FlagBodyIsScalar  = 0x01 // body is a raw string; clear: body is PHP-serialized
	FlagNotCallEncode = 0x02 // "raw": write the body to the client without framing
)

// HeaderLen is the fixed header size; MaxPacket is Workerman's default
// maxPackageSize, above which a connection is dropped.
const (
	HeaderLen = 28
	MaxPacket = 10 << 20
)

// Packet is one GatewayProtocol packet.
type Packet struct {
	Cmd         byte
	LocalIP     uint32
	LocalPort   uint16
	ClientIP    uint32
	ClientPort  uint16
	ConnID      uint32
	Flag        byte
	GatewayPort uint16
	Ext         []byte
	Body        []byte
}

// ErrFrame marks a packet whose header cannot be valid; the connection must close.
var ErrFrame = errors.New("bad GatewayProtocol packet")

// ReadPacket reads one packet. A pack_len under 28 or over max, or an
// ext_len that does not fit, is ErrFrame.
func ReadPacket(r *bufio.Reader, max int) (*Packet, error) {
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	packLen := binary.BigEndian.Uint32(h[0:4])
	extLen := binary.BigEndian.Uint32(h[24:28])
	if packLen < HeaderLen || packLen > uint32(max) {
		return nil, fmt.Errorf("%w: pack_len %d", ErrFrame, packLen)
	}
	if extLen > packLen-HeaderLen {
		return nil, fmt.Errorf("%w: ext_len %d in a packet of %d", ErrFrame, extLen, packLen)
	}
	rest := make([]byte, packLen-HeaderLen)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	return &Packet{
		Cmd:         h[4],
		LocalIP:     binary.BigEndian.Uint32(h[5:9]),
		LocalPort:   binary.BigEndian.Uint16(h[9:11]),
		ClientIP:    binary.BigEndian.Uint32(h[11:15]),
		ClientPort:  binary.BigEndian.Uint16(h[15:17]),
		ConnID:      binary.BigEndian.Uint32(h[17:21]),
		Flag:        h[21],
		GatewayPort: binary.BigEndian.Uint16(h[22:24]),
		Ext:         rest[:extLen],
		Body:        rest[extLen:],
	}, nil
}

// Append appends the encoded packet to b.
func (p *Packet) Append(b []byte) []byte {
	var h [HeaderLen]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(HeaderLen+len(p.Ext)+len(p.Body)))
	h[4] = p.Cmd
	binary.BigEndian.PutUint32(h[5:9], p.LocalIP)
	binary.BigEndian.PutUint16(h[9:11], p.LocalPort)
	binary.BigEndian.PutUint32(h[11:15], p.ClientIP)
	binary.BigEndian.PutUint16(h[15:17], p.ClientPort)
	binary.BigEndian.PutUint32(h[17:21], p.ConnID)
	h[21] = p.Flag
	binary.BigEndian.PutUint16(h[22:24], p.GatewayPort)
	binary.BigEndian.PutUint32(h[24:28], uint32(len(p.Ext)))
	b = append(b, h[:]...)
	b = append(b, p.Ext...)
	return append(b, p.Body...)
}
