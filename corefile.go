package mailustats

import (
	"cmp"
	"fmt"
	"os"
	"slices"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/core/dnsserver"

	"github.com/mailustats/mailustats/plugin/report"
	"github.com/mailustats/mailustats/plugin/sink"
)

// CorefileDatabase is the statistics database of a Corefile's mailustats block, for the tools
// that read or write it offline.
type CorefileDatabase struct {
	Opener  sink.Opener    // the block's first sqlite or postgres sink; it has OpenReader() (*sql.DB, error) too
	Dialect report.Dialect // the SQL the sink speaks
	HashIDs string         // the block's hash_ids secret; "" stores instance IDs as they are
	Source  string         // FILE:LINE of the sink's line, for messages
}

// ReadCorefile returns the first sqlite or postgres sink of the first mailustats block of the
// Corefile at path, and that block's hash_ids secret, read exactly as the server reads them:
// {$VAR} placeholders and imports expanded, and the whole block checked. A Corefile without a
// mailustats block, or whose first one has no SQL sink, is an error.
func ReadCorefile(path string) (CorefileDatabase, error) {
	f, err := os.Open(path)
	if err != nil {
		return CorefileDatabase{}, err
	}
	defer f.Close()
	blocks, err := caddyfile.Parse(path, f, directives())
	if err != nil {
		return CorefileDatabase{}, err
	}
	for _, b := range blocks {
		tokens := b.Tokens[pluginName]
		if len(tokens) == 0 {
			continue
		}
		c := &caddy.Controller{Dispenser: caddyfile.NewDispenserTokens(path, tokens), ServerBlockKeys: b.Keys}
		cfg, err := parse(c)
		if err != nil {
			return CorefileDatabase{}, err
		}
		file := cmp.Or(tokens[0].File, path) // only imported tokens name their file
		return corefileDatabase(cfg, fmt.Sprintf("%s:%d", file, tokens[0].Line))
	}
	return CorefileDatabase{}, fmt.Errorf("%s: no %s block", path, pluginName)
}

// corefileDatabase picks the first SQL sink of the block cfg, which starts at block (FILE:LINE).
func corefileDatabase(cfg config, block string) (CorefileDatabase, error) {
	for _, sl := range cfg.sinks {
		if _, ok := sl.opener.(sqlReader); ok && cfg.stats != nil {
			// parseSink made the first SQL sink the statistics source, so its dialect is this one's.
			return CorefileDatabase{
				Opener:  sl.opener,
				Dialect: cfg.stats.dialect,
				HashIDs: cfg.hashIDs,
				Source:  fmt.Sprintf("%s:%d", sl.file, sl.line),
			}, nil
		}
	}
	return CorefileDatabase{}, fmt.Errorf("%s - %s block without a sqlite or postgres sink", block, pluginName)
}

// directives are the directives a Corefile may use: CoreDNS's, with mailustats added where the
// binary did not insert it (its place in the chain does not matter to parsing).
func directives() []string {
	if slices.Contains(dnsserver.Directives, pluginName) {
		return dnsserver.Directives
	}
	return append(slices.Clone(dnsserver.Directives), pluginName)
}
