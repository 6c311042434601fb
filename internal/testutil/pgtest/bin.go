package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// debianBin matches the directories of the server binaries of each installed major version on
// Debian and Ubuntu, which keep them off PATH.
const debianBin = "/usr/lib/postgresql/*/bin"

// findBin returns the directory holding initdb and postgres: the one on PATH, else the newest
// installed version under debianBin.
func findBin() (string, error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(initdb); hasServer(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(debianBin) // the pattern is valid
	best, bestVersion := "", -1.0
	for _, dir := range dirs {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64) // 15, or 9.6 before 10
		if err == nil && v > bestVersion && hasServer(dir) {
			best, bestVersion = dir, v
		}
	}
	if best == "" {
		return "", errNotInstalled
	}
	return best, nil
}

// hasServer reports whether dir holds both initdb and postgres.
func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}
