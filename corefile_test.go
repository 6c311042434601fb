package mailustats

import (
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mailustats/mailustats/plugin/report"
)

// writeCorefile writes content to a Corefile in a temporary directory and returns its path.
func writeCorefile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "Corefile")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadCorefile(t *testing.T) {
	t.Setenv("TEST_MAILUSTATS_SECRET", "s3cret")
	t.Setenv("TEST_MAILUSTATS_DSN", "postgres://stats@db.example.org:5433/mailu")
	tests := []struct {
		name    string
		input   string
		label   string
		dialect report.Dialect
		hashIDs string
		line    int
	}{
		{
			name: "sqlite after a file sink, other plugins and blocks around",
			input: `. {
    whoami
}
stats.mailu.io:1053 {
    errors
    log
    mailustats {
        ns ns1.stats.mailu.io 127.0.0.1
        sink file data/x.csv
        sink sqlite data/first.db events
        sink postgres postgres://localhost/second
        hash_ids {$TEST_MAILUSTATS_SECRET}
    }
}
other.org {
    mailustats {
        ns ns1.other.org 127.0.0.1
        sink sqlite data/other.db
    }
}
`,
			label: "sqlite:data/first.db", dialect: report.SQLite, hashIDs: "s3cret", line: 10,
		},
		{
			name:  "postgres from the environment, zones from the arguments",
			input: "stats.mailu.io {\n  mailustats mailu.example.org {\n    ns ns.example.net\n    sink postgres {$TEST_MAILUSTATS_DSN}\n  }\n}\n",
			label: "postgres:db.example.org:5433/mailu", dialect: report.Postgres, line: 4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeCorefile(t, tc.input)
			db, err := ReadCorefile(path)
			if err != nil {
				t.Fatal(err)
			}
			if db.Opener.Label() != tc.label || db.Dialect != tc.dialect || db.HashIDs != tc.hashIDs {
				t.Errorf("expected %s, dialect %d, hash_ids %q, got %s, %d, %q", tc.label, tc.dialect, tc.hashIDs, db.Opener.Label(), db.Dialect, db.HashIDs)
			}
			if source := path + ":" + strconv.Itoa(tc.line); db.Source != source {
				t.Errorf("expected source %s, got %s", source, db.Source)
			}
			if _, ok := db.Opener.(interface{ OpenReader() (*sql.DB, error) }); !ok {
				t.Errorf("expected an opener that opens readers, got %T", db.Opener)
			}
		})
	}
}

func TestReadCorefileErrors(t *testing.T) {
	t.Setenv("TEST_MAILUSTATS_UNSET", "")
	tests := []struct {
		name    string
		input   string // "" for a file that does not exist
		wantErr string // substring of the error, after the Corefile's path
	}{
		{name: "missing file", wantErr: "no such file"},
		{name: "no block", input: "stats.mailu.io {\n  whoami\n}\n", wantErr: ": no mailustats block"},
		{name: "no SQL sink", input: "stats.mailu.io {\n  mailustats {\n    ns ns1.stats.mailu.io 127.0.0.1\n    sink file x.csv\n  }\n}\n",
			wantErr: ":2 - mailustats block without a sqlite or postgres sink"},
		{name: "no SQL sink in the first block", input: "a.org {\n  mailustats {\n    ns ns.example.net\n    sink file x.csv\n  }\n}\nb.org {\n  mailustats {\n    ns ns.example.net\n    sink sqlite x.db\n  }\n}\n",
			wantErr: ":2 - mailustats block without"},
		{name: "bad option", input: "stats.mailu.io {\n  mailustats {\n    ns ns1.stats.mailu.io 127.0.0.1\n    sink sqlite x.db\n    buffer many\n  }\n}\n",
			wantErr: ":5 - Error during parsing: 'many' is not a whole number"},
		{name: "what the server refuses", input: "stats.mailu.io {\n  mailustats {\n    ns ns1.stats.mailu.io\n    sink sqlite x.db\n  }\n}\n",
			wantErr: "is inside the zone stats.mailu.io. and has no address"},
		{name: "unset variable", input: "stats.mailu.io {\n  mailustats {\n    ns ns1.stats.mailu.io 127.0.0.1\n    sink postgres {$TEST_MAILUSTATS_UNSET}\n  }\n}\n",
			wantErr: ":4 - Error during parsing: sink postgres: empty DSN"},
		{name: "unknown directive", input: "stats.mailu.io {\n  nosuchplugin\n  mailustats {\n    ns ns1.stats.mailu.io 127.0.0.1\n    sink sqlite x.db\n  }\n}\n",
			wantErr: ":2 - Error during parsing: Unknown directive 'nosuchplugin'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "Corefile")
			if tc.input != "" {
				path = writeCorefile(t, tc.input)
			}
			_, err := ReadCorefile(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("expected an error naming %s with %q, got %v", path, tc.wantErr, err)
			}
		})
	}
}
