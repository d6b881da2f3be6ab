package fetch

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// fakeDNS answers A and AAAA queries from a map, so tests resolve names
// without any network: the *net.Resolver it returns dials an in-memory pipe
// and speaks DNS over TCP framing to it. Unknown names get NXDOMAIN.
type fakeDNS struct {
	records map[string][]netip.Addr // fully qualified, lower case: "img.test."

	mu      sync.Mutex
	queries map[string]int // "img.test. A" -> count
}

func newFakeDNS(records map[string][]string) *fakeDNS {
	d := &fakeDNS{records: map[string][]netip.Addr{}, queries: map[string]int{}}
	for name, addrs := range records {
		for _, a := range addrs {
			d.records[name+"."] = append(d.records[name+"."], netip.MustParseAddr(a))
		}
	}
	return d
}

func (d *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			client, server := net.Pipe()
			go d.serve(server)
			return client, nil
		},
	}
}

func (d *fakeDNS) count(name, qtype string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries[name+". "+qtype]
}

// serve answers length-prefixed queries until the resolver hangs up.
func (d *fakeDNS) serve(c net.Conn) {
	defer c.Close()
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		a := d.answer(q)
		if a == nil {
			return
		}
		if _, err := c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(a)))); err != nil {
			return
		}
		if _, err := c.Write(a); err != nil {
			return
		}
	}
}

func (d *fakeDNS) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question: labels, then type and class.
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])
	name := strings.ToLower(strings.Join(labels, ".")) + "."

	typeName := map[uint16]string{1: "A", 28: "AAAA"}[qtype]
	d.mu.Lock()
	d.queries[name+" "+typeName]++
	d.mu.Unlock()

	addrs, known := d.records[name]
	var answers [][]byte
	for _, a := range addrs {
		if (qtype == 1 && a.Is4()) || (qtype == 28 && a.Is6()) {
			answers = append(answers, a.AsSlice())
		}
	}
	flags := uint16(0x8580) // response, authoritative, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	msg := binary.BigEndian.AppendUint16(nil, binary.BigEndian.Uint16(q)) // id
	msg = binary.BigEndian.AppendUint16(msg, flags)
	msg = binary.BigEndian.AppendUint16(msg, 1)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(answers)))
	msg = append(msg, 0, 0, 0, 0) // no authority, no additional
	msg = append(msg, question...)
	for _, rdata := range answers {
		msg = append(msg, 0xc0, 12) // name: pointer to the question's
		msg = binary.BigEndian.AppendUint16(msg, qtype)
		msg = binary.BigEndian.AppendUint16(msg, 1)  // class IN
		msg = binary.BigEndian.AppendUint32(msg, 60) // TTL
		msg = binary.BigEndian.AppendUint16(msg, uint16(len(rdata)))
		msg = append(msg, rdata...)
	}
	return msg
}

func TestFakeDNSResolves(t *testing.T) {
	d := newFakeDNS(map[string][]string{"img.test": {"192.0.2.1", "2001:db8::1"}})
	got, err := d.resolver().LookupNetIP(context.Background(), "ip", "img.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %v, want two addresses", got)
	}
	if _, err := d.resolver().LookupNetIP(context.Background(), "ip", "nothing.test"); err == nil {
		t.Fatal("unknown name resolved")
	}
}
