package mailustats

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"

	"github.com/mailustats/mailustats/plugin/report"
)

func TestSetupParse(t *testing.T) {
	tests := []struct {
		input   string
		wantErr string // substring of the error; "" for none
		check   func(t *testing.T, cfg config)
	}{
		{input: "mailustats {\n sink file x.csv\n ns ns.example.net\n}", check: func(t *testing.T, cfg config) {
			if cfg.ttl != 300 || cfg.buffer != 65536 || cfg.flush != time.Second {
				t.Errorf("expected defaults ttl 300, buffer 65536, flush 1s, got %d, %d, %s", cfg.ttl, cfg.buffer, cfg.flush)
			}
			if len(cfg.a)+len(cfg.aaaa) != 0 || cfg.mname != "" || cfg.rname != "" || cfg.soaMName("stats.mailu.io.") != "ns.example.net." || cfg.versions != nil {
				t.Errorf("expected NXDOMAIN, the name server as the SOA's MNAME and every version recorded, got %+v", cfg)
			}
			if len(cfg.zones) != 1 || cfg.zones[0] != "stats.mailu.io." {
				t.Errorf("expected the server block's zone, got %v", cfg.zones)
			}
			if len(cfg.sinks) != 1 || cfg.sinks[0].opener.Label() != "file:x.csv" || cfg.sinks[0].line != 2 {
				t.Errorf("expected sink file:x.csv on line 2, got %+v", cfg.sinks)
			}
		}},
		{input: "mailustats Example.ORG other.org. {\n sink file x.csv\n ns ns.example.net\n}", check: func(t *testing.T, cfg config) {
			if strings.Join(cfg.zones, " ") != "example.org. other.org." {
				t.Errorf("expected zones from the arguments in lower case, got %v", cfg.zones)
			}
		}},
		{input: `mailustats {
			answer a 192.0.2.1 192.0.2.2
			answer aaaa 2001:db8::1
			ttl 60
			soa ns1.example.org hostmaster.example.org
			ns ns1.example.org NS2.example.org.
			sink file a.csv csv
			sink file b.jsonl jsonl
			buffer 10
			flush 250ms
		}`, check: func(t *testing.T, cfg config) {
			if len(cfg.a) != 2 || !cfg.a[1].Equal(net.ParseIP("192.0.2.2")) || len(cfg.a[0]) != net.IPv4len {
				t.Errorf("expected two 4-byte A addresses, got %v", cfg.a)
			}
			if len(cfg.aaaa) != 1 || !cfg.aaaa[0].Equal(net.ParseIP("2001:db8::1")) {
				t.Errorf("expected one AAAA address, got %v", cfg.aaaa)
			}
			if cfg.ttl != 60 || cfg.buffer != 10 || cfg.flush != 250*time.Millisecond {
				t.Errorf("expected ttl 60, buffer 10, flush 250ms, got %d, %d, %s", cfg.ttl, cfg.buffer, cfg.flush)
			}
			if cfg.mname != "ns1.example.org." || cfg.rname != "hostmaster.example.org." {
				t.Errorf("expected qualified SOA names, got %s %s", cfg.mname, cfg.rname)
			}
			if len(cfg.ns) != 2 || cfg.ns[0].name != "ns1.example.org." || cfg.ns[1].name != "ns2.example.org." {
				t.Errorf("expected qualified lower-case NS names, got %v", cfg.ns)
			}
			if len(cfg.sinks) != 2 || cfg.sinks[1].opener.Label() != "file:b.jsonl" || cfg.sinks[1].line != 8 {
				t.Errorf("expected a second sink on line 8, got %+v", cfg.sinks)
			}
		}},
		{input: "mailustats {\n answer nxdomain\n sink file x\n soa ns.example.net. hostmaster.example.net.\n}", check: func(t *testing.T, cfg config) {
			if ns := cfg.nameServers("stats.mailu.io."); len(ns) != 1 || ns[0].name != "ns.example.net." {
				t.Errorf("expected the SOA's MNAME as the only name server, got %+v", ns)
			}
		}},
		{input: "mailustats {\n sink file x\n ns ns1.stats.mailu.io 192.0.2.53 2001:db8::53 ns2.example.org NS3.STATS.mailu.io. 192.0.2.54\n versions 1* MASTER\n}", check: func(t *testing.T, cfg config) {
			want := []nameServer{
				{name: "ns1.stats.mailu.io.", a: []net.IP{net.ParseIP("192.0.2.53").To4()}, aaaa: []net.IP{net.ParseIP("2001:db8::53")}},
				{name: "ns2.example.org."},
				{name: "ns3.stats.mailu.io.", a: []net.IP{net.ParseIP("192.0.2.54").To4()}},
			}
			if !reflect.DeepEqual(cfg.ns, want) || cfg.soaMName("stats.mailu.io.") != "ns1.stats.mailu.io." {
				t.Errorf("expected name servers %+v, the first the SOA's MNAME, got %+v", want, cfg.ns)
			}
			if strings.Join(cfg.versions, " ") != "1* master" {
				t.Errorf("expected the version patterns in lower case, got %q", cfg.versions)
			}
		}},
		{input: "mailustats {\n sink file x\n sink sqlite a.db\n sink sqlite b.db\n api 127.0.0.1:9154\n hash_ids s3cret\n ns ns.example.net\n}", check: func(t *testing.T, cfg config) {
			if cfg.api != "127.0.0.1:9154" || cfg.apiLine != "Testfile:5" || cfg.hashIDs != "s3cret" {
				t.Errorf("expected api 127.0.0.1:9154 on Testfile:5 and hash_ids s3cret, got %q %q %q", cfg.api, cfg.apiLine, cfg.hashIDs)
			}
			if cfg.stats == nil || any(cfg.stats.reader) != any(cfg.sinks[1].opener) || cfg.stats.dialect != report.SQLite {
				t.Errorf("expected statistics read from the first SQL sink, in SQLite, got %+v", cfg.stats)
			}
		}},
		{input: "mailustats {\n sink sqlite data/m.db events retention 90d\n sink postgres postgres://stats:secret@db.example.org:5433/stats\n ns ns.example.net\n}", check: func(t *testing.T, cfg config) {
			labels := []string{cfg.sinks[0].opener.Label(), cfg.sinks[1].opener.Label()}
			if strings.Join(labels, " ") != "sqlite:data/m.db postgres:db.example.org:5433/stats" {
				t.Errorf("expected the sqlite sink and the postgres DSN without its password, got %v", labels)
			}
		}},
		{input: "mailustats {\n sink file x\n sink postgres postgres://db.example.org/stats\n sink sqlite a.db\n ns ns.example.net\n}", check: func(t *testing.T, cfg config) {
			if cfg.stats == nil || any(cfg.stats.reader) != any(cfg.sinks[1].opener) || cfg.stats.dialect != report.Postgres {
				t.Errorf("expected statistics read from the first SQL sink, in PostgreSQL, got %+v", cfg.stats)
			}
		}},

		{input: "mailustats {\n sink sqlite a.db\n api 127.0.0.1:9154\n ns ns.example.net\n}", check: func(t *testing.T, cfg config) {
			if cfg.title != "stats.mailu.io" {
				t.Errorf("expected the title stats.mailu.io, the zone without its dot, got %q", cfg.title)
			}
		}},
		{input: "mailustats Example.ORG other.org. {\n sink sqlite a.db\n api 127.0.0.1:9154\n ns ns.example.net\n}", check: func(t *testing.T, cfg config) {
			if cfg.title != "example.org" {
				t.Errorf("expected the title example.org, the first zone in lower case without its dot, got %q", cfg.title)
			}
		}},
		{input: "mailustats {\n sink sqlite a.db\n api 127.0.0.1:9154\n title \"Example & Co statistics\"\n ns ns.example.net\n}", check: func(t *testing.T, cfg config) {
			if cfg.title != "Example & Co statistics" {
				t.Errorf("expected the quoted title as one argument, got %q", cfg.title)
			}
		}},
		{input: "mailustats {\n sink sqlite a.db\n api 127.0.0.1:9154\n title Mailu\n ns ns.example.net\n}", check: func(t *testing.T, cfg config) {
			if cfg.title != "Mailu" {
				t.Errorf("expected the title Mailu, got %q", cfg.title)
			}
		}},

		{input: "mailustats", wantErr: "no sink configured"},
		{input: "\nmailustats {\n ttl 5\n}", wantErr: "Testfile:2 - Error during parsing: no sink configured"},
		{input: "mailustats {\n sink file x\n bogus 1\n}", wantErr: "Testfile:3 - Error during parsing: unknown property 'bogus'"},
		{input: "mailustats {\n sink file x\n}\nmailustats {\n sink file y\n}", wantErr: "plugin/mailustats: this plugin"},
		{input: "mailustats {\n sink\n}", wantErr: "Testfile:2 - Error during parsing: Wrong argument count"},
		{input: "mailustats {\n sink ftp x\n}", wantErr: `Testfile:2 - Error during parsing: unknown sink "ftp"`},
		{input: "mailustats {\n sink file\n}", wantErr: "Testfile:2 - Error during parsing: sink file takes PATH"},
		{input: "mailustats {\n sink file x xml\n}", wantErr: `unknown file format "xml"`},
		{input: "mailustats {\n sink sqlite\n}", wantErr: "Testfile:2 - Error during parsing: "},
		{input: "mailustats {\n sink sqlite x retention 9d\n}", wantErr: "retention applies to events"},
		{input: "mailustats {\n sink postgres\n}", wantErr: "Testfile:2 - Error during parsing: "},
		{input: "mailustats {\n sink postgres host=db port=x\n}", wantErr: "Testfile:2 - Error during parsing: "},
		{input: "mailustats {\n sink file x\n answer\n}", wantErr: "Testfile:3 - Error during parsing: Wrong argument count"},
		{input: "mailustats {\n sink file x\n answer cname x\n}", wantErr: "unknown answer 'cname'"},
		{input: "mailustats {\n sink file x\n answer a\n}", wantErr: "Wrong argument count"},
		{input: "mailustats {\n sink file x\n answer nxdomain 192.0.2.1\n}", wantErr: "Wrong argument count"},
		{input: "mailustats {\n sink file x\n answer a 2001:db8::1\n}", wantErr: "'2001:db8::1' is not an IPv4 address"},
		{input: "mailustats {\n sink file x\n answer aaaa 192.0.2.1\n}", wantErr: "'192.0.2.1' is not an IPv6 address"},
		{input: "mailustats {\n sink file x\n answer a localhost\n}", wantErr: "'localhost' is not an IPv4 address"},
		{input: "mailustats {\n sink file x\n answer a 192.0.2.1\n answer nxdomain\n}", wantErr: "Testfile:4 - Error during parsing: 'answer nxdomain' excludes"},
		{input: "mailustats {\n sink file x\n answer nxdomain\n answer aaaa ::1\n}", wantErr: "'answer nxdomain' excludes"},
		{input: "mailustats {\n sink file x\n answer a 192.0.2.1\n answer a 192.0.2.2\n}", wantErr: "'answer a' given twice"},
		{input: "mailustats {\n sink file x\n ttl 1 2\n}", wantErr: "Wrong argument count"},
		{input: "mailustats {\n sink file x\n ttl -1\n}", wantErr: "'-1' is not a whole number"},
		{input: "mailustats {\n sink file x\n ttl 604801\n}", wantErr: "'604801' is not a whole number from 0 to 604800"},
		{input: "mailustats {\n sink file x\n ttl 5\n ttl 6\n}", wantErr: "Testfile:4 - Error during parsing: 'ttl' given twice"},
		{input: "mailustats {\n sink file x\n soa ns.example.org\n}", wantErr: "Wrong argument count"},
		{input: "mailustats {\n sink file x\n soa a..b c\n}", wantErr: "'a..b' is not a domain name"},
		{input: "mailustats {\n sink file x\n ns\n}", wantErr: "Wrong argument count"},
		{input: "mailustats {\n sink file x\n ns 192.0.2.1 ns.example.net\n}", wantErr: "Testfile:3 - Error during parsing: ns: address '192.0.2.1' before any name server's name"},
		{input: "mailustats {\n sink file x\n ns ns.example.net a..b\n}", wantErr: "'a..b' is not a domain name"},
		{input: "mailustats {\n sink file x\n ns ns.example.net \"\"\n}", wantErr: "Testfile:3 - Error during parsing: ns: an empty argument; is the environment variable it names set?"},
		{input: "mailustats stats.mailu.io {\n sink file x\n}", wantErr: "name server ns.stats.mailu.io. is inside the zone stats.mailu.io. and has no address"},
		{input: "mailustats stats.mailu.io {\n sink file x\n soa ns1.stats.mailu.io. hostmaster.example.net.\n}", wantErr: "name server ns1.stats.mailu.io. is inside the zone"},
		{input: "mailustats stats.mailu.io {\n sink file x\n ns ns.example.net ns1.stats.mailu.io\n}", wantErr: "name server ns1.stats.mailu.io. is inside the zone stats.mailu.io. and has no address: give it the parent zone's glue, as in 'ns ns1.stats.mailu.io. ADDRESS...'"},
		{input: "mailustats stats.mailu.io {\n sink file x\n ns ns.example.net 192.0.2.1\n}", wantErr: "name server ns.example.net. is outside the zones, so its addresses would never be answered"},
		{input: "mailustats {\n sink file x\n versions\n}", wantErr: "Wrong argument count"},
		{input: "mailustats {\n sink file x\n versions 19 [1-\n}", wantErr: "Testfile:3 - Error during parsing: versions: '[1-' is not a pattern"},
		{input: "mailustats {\n sink file x\n buffer 0\n}", wantErr: "buffer must be at least 1"},
		{input: "mailustats {\n sink file x\n buffer many\n}", wantErr: "'many' is not a whole number"},
		{input: "mailustats {\n sink file x\n flush 0s\n}", wantErr: "flush wants a positive duration"},
		{input: "mailustats {\n sink file x\n flush soon\n}", wantErr: "flush wants a positive duration"},
		{input: "mailustats {\n sink file x\n flush\n}", wantErr: "Wrong argument count"},
		{input: "mailustats {\n sink file x\n api 127.0.0.1:9154\n}", wantErr: "api reads the statistics from a sqlite or postgres sink"},
		{input: "mailustats {\n sink sqlite x\n api 127.0.0.1\n}", wantErr: "Testfile:3 - Error during parsing: api wants HOST:PORT"},
		{input: "mailustats {\n sink sqlite x\n api :http\n}", wantErr: "api wants HOST:PORT"},
		{input: "mailustats {\n sink sqlite x\n api\n}", wantErr: "Wrong argument count"},
		{input: "mailustats {\n sink sqlite x\n hash_ids\n}", wantErr: "hash_ids takes one non-empty SECRET"},
		{input: "mailustats {\n sink sqlite x\n api 127.0.0.1:9154\n title\n}", wantErr: "Testfile:4 - Error during parsing: title takes one non-empty TEXT"},
		{input: "mailustats {\n sink sqlite x\n api 127.0.0.1:9154\n title Mailu statistics\n}", wantErr: `title takes one non-empty TEXT; quote one with spaces, as in title "Example Mail"`},
		{input: "mailustats {\n sink sqlite x\n api 127.0.0.1:9154\n title \"\"\n}", wantErr: "Testfile:4 - Error during parsing: title takes one non-empty TEXT"},
		{input: "mailustats {\n sink sqlite x\n api 127.0.0.1:9154\n title \"  \"\n}", wantErr: "title takes one non-empty TEXT"},
		{input: "mailustats {\n sink sqlite x\n api 127.0.0.1:9154\n title A\n title B\n}", wantErr: "Testfile:5 - Error during parsing: 'title' given twice"},
		{input: "mailustats {\n sink sqlite x\n title Mailu\n}", wantErr: "title names the statistics page, which api serves; add api"},
		{input: "mailustats {\n sink sqlite x\n hash_ids a b\n}", wantErr: "hash_ids takes one non-empty SECRET"},
	}
	for i, tc := range tests {
		c := caddy.NewTestController("dns", tc.input)
		c.ServerBlockKeys = []string{"stats.mailu.io:53"}
		cfg, err := parse(c)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("test %d: expected no error, got %v", i, err)
			} else if tc.check != nil {
				tc.check(t, cfg)
			}
			continue
		}
		if err == nil {
			t.Errorf("test %d: expected error containing %q, got none", i, tc.wantErr)
			continue
		}
		if err := setup(caddy.NewTestController("dns", tc.input)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("test %d: expected error containing %q, got %v", i, tc.wantErr, err)
		}
	}
}

func TestStartNamesTheSinkLine(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing", "x.csv")
	c := caddy.NewTestController("dns", "mailustats stats.mailu.io {\n ttl 5\n sink file "+missing+"\n ns ns.example.net\n}")
	cfg, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	err = newMailuStats(cfg).start()
	want := "Testfile:3 - sink file:" + missing + ": open " + missing + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("expected %q, got %v", want, err)
	}
}

func TestStartClosesOpenedSinksOnFailure(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	c := caddy.NewTestController("dns", "mailustats stats.mailu.io {\n sink file "+good+"\n sink file "+dir+"/no/such.csv\n ns ns.example.net\n}")
	cfg, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	m := newMailuStats(cfg)
	before := openFiles(t)
	if err := m.start(); err == nil {
		t.Fatal("expected start to fail on the second sink")
	}
	if after := openFiles(t); after != before {
		t.Errorf("expected the first sink closed again (%d open files), got %d", before, after)
	}
	if m.Ready() {
		t.Error("expected a plugin whose start failed not to be ready")
	}
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(entries)
}
