//go:build !unix

package h1

// alive cannot peek at a socket without blocking on this platform; an
// idle connection is assumed open, and a first write that fails is
// retried as net/http does.
func alive(c *conn) bool { return c.br.Buffered() == 0 }
