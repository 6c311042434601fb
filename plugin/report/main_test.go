package report_test

import (
	"fmt"
	"testing"

	"github.com/mailustats/mailustats/internal/testutil/pgtest"
)

// pgServer is the PostgreSQL server of the package's tests, each on a database of its own.
var pgServer pgtest.Shared

func TestMain(m *testing.M) {
	m.Run()
	if err := pgServer.Close(); err != nil {
		fmt.Println(err)
	}
}
