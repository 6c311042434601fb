package pgtest

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// serverUser is the system account the server runs as when the tests run as root, which
// PostgreSQL refuses; the Debian package creates it.
const serverUser = "postgres"

// account is a system user and group to run the server binaries as.
type account struct {
	uid, gid int
}

// serverAccount returns the account of serverUser when running as root, else nil: the server
// then runs as the test's own user.
func serverAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(serverUser)
	if err != nil {
		return nil, fmt.Errorf("running as root, the server needs the %s account: %w", serverUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, err
	}
	return &account{uid: uid, gid: gid}, nil
}
