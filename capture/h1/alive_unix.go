//go:build unix

package h1

import (
	"crypto/tls"
	"net"
	"syscall"
)

// alive reports whether an idle connection can carry another request: the
// server has not closed it, and sent nothing unasked. net/http's Transport
// learns this from the reader goroutine it keeps on every idle
// connection; here one non-blocking peek at the socket answers it when
// the connection is taken. A connection whose socket cannot be reached (a
// tunnel through a TLS proxy) is assumed alive; a failed first write is
// then retried as net/http does.
func alive(c *conn) bool {
	if c.br.Buffered() > 0 {
		return false
	}
	tcp := tcpConn(c.nc)
	if tcp == nil {
		return true
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: open, nothing to read. No error: the server closed it
		// (0 bytes) or sent bytes nobody asked for. Any other: reset.
		ok = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait for readability
	})
	return err == nil && ok
}

// tcpConn finds the TCP connection under the wrappers a dialer may add
// (each exposing NetConn), stopping at TLS: bytes on a TLS connection's
// socket (a session ticket) say nothing about the HTTP stream inside.
func tcpConn(c net.Conn) *net.TCPConn {
	for c != nil {
		switch x := c.(type) {
		case *net.TCPConn:
			return x
		case *tls.Conn:
			return nil
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}
