package fetch

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// nonPublicRanges are the addresses a client must not make the gateway
// fetch from, each with the word that goes into the log. More specific
// entries come first so the log names the most useful reason.
var nonPublicRanges = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},

	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast"},

	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignment (Teredo, benchmarking, ORCHID)"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("5f00::/16"), "SRv6 segment identifier"},
	{netip.MustParsePrefix("fc00::/7"), "private (unique local)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	nat64Prefix     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")
)

// nonPublic says why a is not a public address, or "" when it is. IPv6
// forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by the
// IPv4 address they lead to.
func nonPublic(a netip.Addr) string {
	a = a.WithZone("") // Prefix.Contains never matches a zoned address
	if !a.IsValid() {
		return "invalid"
	}
	if a.Is4In6() {
		if why := nonPublic(a.Unmap()); why != "" {
			return "IPv4-mapped " + why
		}
		return ""
	}
	for _, r := range nonPublicRanges {
		if r.prefix.Contains(a) {
			return r.what
		}
	}
	if nat64Prefix.Contains(a) {
		b := a.As16()
		if why := nonPublic(netip.AddrFrom4([4]byte(b[12:16]))); why != "" {
			return "NAT64 of " + why
		}
	}
	if sixToFourPrefix.Contains(a) {
		b := a.As16()
		if why := nonPublic(netip.AddrFrom4([4]byte(b[2:6]))); why != "" {
			return "6to4 of " + why
		}
	}
	// A net under the table: whatever the standard library also refuses
	// to call global unicast.
	if !a.IsGlobalUnicast() {
		return "not global unicast"
	}
	return ""
}

// legacyIPv4 parses the IPv4 spellings that inet_aton and browsers accept
// but netip does not: "2130706433", "0x7f.1", "017700000001", "127.1".
// A system resolver would turn such a host into an address without DNS, so
// it is treated as that literal address rather than as a name.
func legacyIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(strings.TrimSuffix(host, "."), ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, p := range parts {
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			p, base = p[2:], 16
		case len(p) > 1 && p[0] == '0':
			p, base = p[1:], 8
		}
		n, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		nums = append(nums, n)
	}
	// All parts but the last are one byte; the last fills what remains.
	var v uint64
	for _, n := range nums[:len(nums)-1] {
		if n > 0xff {
			return netip.Addr{}, false
		}
		v = v<<8 | n
	}
	last, rest := nums[len(nums)-1], uint(5-len(nums))*8
	if last >= 1<<rest {
		return netip.Addr{}, false
	}
	v = v<<rest | last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// isLocalhostName reports names that mean this machine without DNS
// (RFC 6761), so they are refused even if a resolver would not know them.
func isLocalhostName(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// hostPattern is one AllowedHosts entry. port 0 allows any port; -1 (an
// entry with an unparsable port) allows none.
type hostPattern struct {
	host string
	port int
}

// parseAllowedHost reads an entry as LiteLLM's user_url_allowed_hosts
// writes them: "img.corp.internal", "10.0.0.12:8080", "[::1]", "[::1]:8080"
// or a bare "::1".
func parseAllowedHost(s string) (hostPattern, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return hostPattern{}, false
	}
	if h, p, err := net.SplitHostPort(s); err == nil {
		if p == "" {
			return hostPattern{host: canonicalHost(h)}, true
		}
		port, ok := parsePort(p)
		if !ok {
			port = -1
		}
		return hostPattern{host: canonicalHost(h), port: port}, true
	}
	h := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	return hostPattern{host: canonicalHost(h)}, true
}

func (p hostPattern) matches(host string, port int) bool {
	return p.host == canonicalHost(host) && (p.port == 0 || p.port == port)
}

// canonicalHost makes two spellings of the same name or IP literal compare
// equal: case, a trailing dot, and IPv6 zero compression do not matter.
func canonicalHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if a, err := netip.ParseAddr(h); err == nil {
		return a.String()
	}
	return h
}

func parsePort(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return n, true
}
