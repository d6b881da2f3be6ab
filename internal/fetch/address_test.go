package fetch

import (
	"net/netip"
	"testing"
)

func TestNonPublic(t *testing.T) {
	blocked := []string{
		"127.0.0.1", "127.255.255.254", "::1",
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fc00::1", "fd12:3456::1",
		"169.254.169.254", "169.254.1.1", "fe80::1", "fe80::1%eth0",
		"fd00:ec2::254",
		"0.0.0.0", "0.1.2.3", "::",
		"100.64.0.1", "100.127.255.255",
		"224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1",
		"255.255.255.255", "240.0.0.1",
		"192.0.0.8", "198.18.0.1", "198.19.255.255",
		"192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
		"::127.0.0.1",                           // IPv4-compatible
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", // NAT64 of 127.0.0.1 and the metadata address
		"64:ff9b:1::1",
		"2002:7f00:1::1", "2002:a9fe:a9fe::", // 6to4 of 127.0.0.1 and 169.254.169.254
		"2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
		"fec0::1",
	}
	public := []string{
		"8.8.8.8", "1.1.1.1", "93.184.215.14", "172.32.0.1", "100.128.0.1", "192.0.1.1", "198.20.0.1",
		"2606:4700:4700::1111", "2a00:1450:4001::200e",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range blocked {
		if why := nonPublic(netip.MustParseAddr(s)); why == "" {
			t.Errorf("%s: public, want blocked", s)
		}
	}
	for _, s := range public {
		if why := nonPublic(netip.MustParseAddr(s)); why != "" {
			t.Errorf("%s: blocked as %s, want public", s, why)
		}
	}
}

func TestLegacyIPv4(t *testing.T) {
	tests := []struct {
		host string
		want string // "" = not an IPv4 spelling
	}{
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0X7F000001", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0177.0.0.01", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"10.1", "10.0.0.1"},
		{"192.168.257", "192.168.1.1"},
		{"3232235777", "192.168.1.1"},
		{"127.0.0.1.", "127.0.0.1"},
		{"4294967296", ""},
		{"256.1", ""},
		{"1.2.3.256", ""},
		{"1.2.3.4.5", ""},
		{"08", ""},
		{"0x", ""},
		{"1..2", ""},
		{"example.com", ""},
		{"0x7f.example", ""},
	}
	for _, tt := range tests {
		got, ok := legacyIPv4(tt.host)
		switch {
		case tt.want == "" && ok:
			t.Errorf("%q: parsed as %s, want not an address", tt.host, got)
		case tt.want != "" && (!ok || got != netip.MustParseAddr(tt.want)):
			t.Errorf("%q: got %s, %v; want %s", tt.host, got, ok, tt.want)
		}
	}
}

func TestAllowedHostMatching(t *testing.T) {
	tests := []struct {
		entry string
		host  string
		port  int
		want  bool
	}{
		{"127.0.0.1", "127.0.0.1", 8080, true},
		{"127.0.0.1:8080", "127.0.0.1", 8080, true},
		{"127.0.0.1:8080", "127.0.0.1", 8081, false},
		{"img.corp.internal", "IMG.corp.internal.", 443, true},
		{"img.corp.internal", "evil.img.corp.internal", 443, false},
		{"[::1]", "::1", 80, true},
		{"[::1]:80", "::1", 80, true},
		{"[::1]:80", "::1", 81, false},
		{"::1", "0:0::1", 80, true},
		{"10.0.0.12:http", "10.0.0.12", 80, false}, // unreadable port allows nothing
		{"127.0.0.1", "2130706433", 80, false},     // as written in the URL, not what it means
	}
	for _, tt := range tests {
		p, ok := parseAllowedHost(tt.entry)
		if !ok {
			t.Fatalf("%q: not parsed", tt.entry)
		}
		if got := p.matches(tt.host, tt.port); got != tt.want {
			t.Errorf("entry %q vs %s port %d: got %v, want %v", tt.entry, tt.host, tt.port, got, tt.want)
		}
	}
	if _, ok := parseAllowedHost("  "); ok {
		t.Error("blank entry parsed")
	}
}
