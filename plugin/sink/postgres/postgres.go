// Package postgres is the `sink postgres DSN [events] [retention DURATION]` of mailustats: it
// keeps the statistics store (the sightings of instances and the aggregates kept in step with
// them), and optionally every event, in a PostgreSQL database that many CoreDNS replicas may
// share. The database may be down when CoreDNS starts; the sink connects and migrates the
// schema when it first can.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/table"
)

// applicationName names the sink's connections in pg_stat_activity, unless the DSN does.
const applicationName = "mailustats"

// opener is the configuration of a `sink postgres` line.
type opener struct {
	config *pgxpool.Config
	opts   table.Options
}

// Parse reads the arguments of a `sink postgres DSN [events] [retention DURATION]` line. It
// checks the DSN, a URL or key/value string, but does not connect.
func Parse(args []string) (sink.Opener, error) {
	if len(args) < 1 {
		return nil, errors.New("sink postgres takes DSN [events] [retention DURATION]")
	}
	if args[0] == "" {
		return nil, errors.New("sink postgres: empty DSN; is the environment variable it names set?")
	}
	config, err := pgxpool.ParseConfig(args[0])
	if err != nil {
		return nil, dsnError(err)
	}
	opts, err := table.ParseOptions(args[1:])
	if err != nil {
		return nil, err
	}
	if _, ok := config.ConnConfig.RuntimeParams["application_name"]; !ok {
		config.ConnConfig.RuntimeParams["application_name"] = applicationName
	}
	return opener{config: config, opts: opts}, nil
}

// dsnError says why a DSN does not parse without quoting it: pgx masks the password in the DSN
// it quotes only as well as it can tell where the password is.
func dsnError(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		msg := pe.Error() // cannot parse `DSN`: reason
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			return fmt.Errorf("sink postgres: invalid DSN: %s", msg[i+len("`: "):])
		}
	}
	return errors.New("sink postgres: invalid DSN")
}

// Label is postgres:HOST:PORT/DATABASE, without user or password.
func (o opener) Label() string {
	c := o.config.ConnConfig
	return "postgres:" + net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))) + "/" + c.Database
}

// Open creates the connection pool without connecting, so that CoreDNS starts and answers while
// the database is down; the sink connects in Prepare, which its writer retries. The server
// plans the sink's prepared statements for their arguments every time (plan_cache_mode), as
// the sizes of a batch's arrays decide between index lookups and whole-table scans; a cached
// generic plan, made for arrays of any size, was seen to scan.
func (o opener) Open() (sink.Sink, error) {
	config := o.config.Copy()
	if _, ok := config.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		config.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), config)
	if err != nil {
		return nil, err
	}
	return newSink(pool, o.opts), nil
}
