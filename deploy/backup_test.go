package deploy

import (
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// imageTool is where the image holds the offline tool, beside /coredns.
const imageTool = "/mailustats"

// toolFlags are the flags of the subcommands of the offline tool that the deployment files run,
// by subcommand, each with whether it takes a value: the command lines agreed for backup and
// verify. Where the built tool has a subcommand, checkToolCall also checks the flags against
// its usage.
var toolFlags = map[string]map[string]bool{
	"backup": {"sqlite": true, "conf": true, "to": true, "dir": true, "keep": true, "metrics": true},
	"verify": {"sqlite": true, "postgres": true, "conf": true, "repair": false, "metrics": true},
}

// toolCall is one command line of the offline tool: the subcommand and its flags, by name
// without the dash, a flag without a value as "".
type toolCall struct {
	sub   string
	flags map[string]string
}

// parseToolCall reads the arguments of the tool (after its path) as the contract of toolFlags
// has them: a subcommand, then flags, each as -name or -name value.
func parseToolCall(args []string) (toolCall, error) {
	if len(args) == 0 {
		return toolCall{}, fmt.Errorf("expected a subcommand, got none")
	}
	call := toolCall{sub: args[0], flags: map[string]string{}}
	known, ok := toolFlags[call.sub]
	if !ok {
		return call, fmt.Errorf("expected a subcommand of %v, got %q", slices.Sorted(maps.Keys(toolFlags)), call.sub)
	}
	for i := 1; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "-")
		takesValue, isFlag := known[name]
		switch {
		case !ok || !isFlag:
			return call, fmt.Errorf("%s: expected a flag of %v, got %q", call.sub, slices.Sorted(maps.Keys(known)), args[i])
		case takesValue && i+1 == len(args):
			return call, fmt.Errorf("%s: expected a value after -%s", call.sub, name)
		case takesValue:
			i++
			call.flags[name] = args[i]
		default:
			call.flags[name] = ""
		}
	}
	return call, nil
}

// exactlyOne returns an error unless call has exactly one of the flags names.
func (c toolCall) exactlyOne(names ...string) error {
	n := 0
	for _, name := range names {
		if _, ok := c.flags[name]; ok {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%s: expected exactly one of -%s, got %v", c.sub, strings.Join(names, ", -"), c.flags)
	}
	return nil
}

// checkToolCall parses a command line of the tool that a deployment file runs unattended and
// checks it: against the contract, the combinations each subcommand allows (verify never with
// -repair), and, where the built tool has the subcommand, its usage, which must list every
// flag used.
func checkToolCall(t *testing.T, where string, args []string) toolCall {
	t.Helper()
	call, err := parseToolCall(args)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var errs []error
	switch call.sub {
	case "backup":
		errs = append(errs, call.exactlyOne("sqlite", "conf"), call.exactlyOne("to", "dir"))
		if _, keep := call.flags["keep"]; keep {
			if _, dir := call.flags["dir"]; !dir {
				errs = append(errs, fmt.Errorf("backup: expected -keep only with -dir, got %v", call.flags))
			}
		}
	case "verify":
		errs = append(errs, call.exactlyOne("sqlite", "postgres", "conf"))
		if _, repair := call.flags["repair"]; repair {
			errs = append(errs, fmt.Errorf("verify: expected no -repair, which rewrites the aggregates unattended and hides what it finds, got %v", call.flags))
		}
	}
	for _, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}

	usage, built := toolUsage(t, call.sub)
	if !built {
		t.Logf("%s: the built tool has no subcommand %s yet: checked against the agreed flags only", where, call.sub)
		return call
	}
	for name := range call.flags {
		if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(name) + `\b`).MatchString(usage) {
			t.Errorf("%s: expected the built tool's %s to take -%s, got its usage\n%s", where, call.sub, name, usage)
		}
	}
	return call
}

// toolBin is the offline tool that corednstest.Main builds beside the server.
func toolBin() string { return filepath.Join(filepath.Dir(coreDNSBin), "mailustats") }

// toolUsage returns what `mailustats help SUB` of the built tool prints, and whether the tool
// has that subcommand.
func toolUsage(t *testing.T, sub string) (string, bool) {
	t.Helper()
	out, err := exec.Command(toolBin(), "help", sub).CombinedOutput()
	if err != nil && strings.Contains(string(out), "unknown command") {
		return "", false
	}
	if err != nil {
		t.Fatalf("%s help %s: expected its usage, got %v\n%s", toolBin(), sub, err, out)
	}
	return string(out), true
}

// backupRun is a run of a backup as the deployment files have it: one command line of the
// tool, backup -dir DIR -keep N. It checks the copy as verify checks a database before the copy
// takes its place, and removes the oldest copies only after that, so a step of verify before or
// after it would only run the same checks again, on a copy of its own.
type backupRun struct {
	source                 string // the flag that names the live database, and its value
	dir, keep, metricsFile string
}

// checkBackupRun checks the command lines of the tool that a deployment file runs for a backup:
// each with checkToolCall, and together exactly one, a backup into a directory that keeps
// several copies.
func checkBackupRun(t *testing.T, where string, lines [][]string) backupRun {
	t.Helper()
	var calls []toolCall
	for i, line := range lines {
		calls = append(calls, checkToolCall(t, fmt.Sprintf("%s: run %d of the tool", where, i+1), line))
	}
	if len(calls) != 1 {
		t.Fatalf("%s: expected one run of the tool, backup -dir DIR -keep N, which checks its copy as verify does, got %d: %v", where, len(calls), lines)
	}
	b := calls[0]
	var r backupRun
	for _, flag := range []string{"sqlite", "conf"} {
		if v, ok := b.flags[flag]; ok {
			r.source = "-" + flag + " " + v
		}
	}
	r.dir, r.keep, r.metricsFile = b.flags["dir"], b.flags["keep"], b.flags["metrics"]
	if b.sub != "backup" || r.dir == "" {
		t.Errorf("%s: expected backup -dir DIR, which writes a checked copy and only then removes old ones, got %s %v", where, b.sub, b.flags)
	}
	if n, err := strconv.Atoi(r.keep); err != nil || n < 2 {
		t.Errorf("%s: expected -keep of several copies, got %q", where, r.keep)
	}
	return r
}

// backupPeakMemory is the peak RSS of backup on the benchmark database of ./plugin/report
// (100,000 instances over 5 years), measured at 300 to 390 MiB: what its container requests
// at least.
const backupPeakMemory = 400 << 20

// quantityBytes reads a Kubernetes quantity of bytes, such as 512Mi or 1G.
func quantityBytes(q string) (float64, error) {
	units := []struct {
		suffix string
		factor float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}
	n, factor := q, 1.0
	for _, u := range units {
		if v, ok := strings.CutSuffix(q, u.suffix); ok {
			n, factor = v, u.factor
			break
		}
	}
	v, err := strconv.ParseFloat(n, 64)
	if err != nil {
		return 0, fmt.Errorf("expected a quantity of bytes, got %q", q)
	}
	return v * factor, nil
}

// TestBackupCronJob checks the nightly backups of the SQLite way on Kubernetes: a CronJob that
// runs the tool of the server's image on the server's volume, and fails loudly.
func TestBackupCronJob(t *testing.T) {
	objects := manifests(t, kubernetesBackup)
	checkKinds(t, kubernetesBackup, objects, "CronJob", "PersistentVolumeClaim")
	cj, backups := objects["CronJob"], objects["PersistentVolumeClaim"]
	server := manifests(t, kubernetesSQLite)
	dep := server["Deployment"]
	serverPod, serverContainer := dep.Spec.Template.Spec, dep.Spec.Template.Spec.Containers[0]
	dbDir := sqliteDir(t, server["ConfigMap"].Data["Corefile"])

	if f := strings.Fields(cj.Spec.Schedule); len(f) != 5 || !isNumber(f[0]) || !isNumber(f[1]) || strings.Join(f[2:], " ") != "* * *" {
		t.Errorf("expected a nightly schedule, MINUTE HOUR * * *, got %q", cj.Spec.Schedule)
	}
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("expected concurrencyPolicy Forbid, got %q", cj.Spec.ConcurrencyPolicy)
	}
	job := cj.Spec.JobTemplate.Spec
	if h := cj.Spec.FailedJobsHistoryLimit; h == nil || *h < 1 {
		t.Errorf("expected failed Jobs kept (failedJobsHistoryLimit), for kube_job_status_failed to alert on, got %v", h)
	}
	if job.TTLSecondsAfterFinished != nil {
		t.Errorf("expected no ttlSecondsAfterFinished, which deletes failed Jobs, got %d", *job.TTLSecondsAfterFinished)
	}
	if job.BackoffLimit == nil || job.ActiveDeadlineSeconds == nil {
		t.Errorf("expected a backoffLimit and an activeDeadlineSeconds, got %v and %v", job.BackoffLimit, job.ActiveDeadlineSeconds)
	}

	pod := job.Template.Spec
	if pod.RestartPolicy != "Never" {
		t.Errorf("expected restartPolicy Never, so that each failure is a pod of its own with its log, got %q", pod.RestartPolicy)
	}
	for _, sel := range []labelSelector{dep.Spec.Selector, server["Service"].Spec.Selector} {
		if selects(sel, job.Template.Metadata.Labels) {
			t.Errorf("expected the backup pod's labels %v outside the server's selector %v", job.Template.Metadata.Labels, sel)
		}
	}
	affine := false
	for _, a := range pod.Affinity.PodAffinity.Required {
		affine = affine || (selects(a.LabelSelector, dep.Spec.Template.Metadata.Labels) && a.TopologyKey == "kubernetes.io/hostname")
	}
	if !affine {
		t.Errorf("expected a required podAffinity to the server's node, where its ReadWriteOnce volume is, got %+v", pod.Affinity)
	}
	if !slices.Equal(backups.Spec.AccessModes, []string{"ReadWriteOnce"}) {
		t.Errorf("PersistentVolumeClaim %s: expected ReadWriteOnce, got %v", backups.Metadata.Name, backups.Spec.AccessModes)
	}

	var lines [][]string
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		where := kubernetesBackup + ": container " + c.Name
		if c.Image != serverContainer.Image || !slices.Equal(c.Command, []string{imageTool}) {
			t.Errorf("%s: expected %s of the server's image %s, got %v of %s", where, imageTool, serverContainer.Image, c.Command, c.Image)
		}
		sc := c.SecurityContext
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem ||
			!slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: expected no privilege escalation, a read-only root and no capability, got %+v", where, sc)
		}
		checkIdentity(t, where, pod, c)
		checkBackupMemory(t, where, c)
		lines = append(lines, c.Args)
	}
	run := checkBackupRun(t, kubernetesBackup, lines)

	c := pod.Containers[0] // the one run of the tool, so the one container
	dataClaim := volumeAt(serverPod, serverContainer, dbDir).PersistentVolumeClaim.ClaimName
	if got := volumeAt(pod, c, dbDir).PersistentVolumeClaim.ClaimName; got != dataClaim || got == "" {
		t.Errorf("expected the server's database volume at %s, as the server mounts it, claim %q, got claim %q", dbDir, dataClaim, got)
	}
	if want := "-sqlite " + filepath.Join(dbDir, "mailustats.db"); run.source != want || !strings.Contains(server["ConfigMap"].Data["Corefile"], "sink sqlite "+filepath.Join(dbDir, "mailustats.db")) {
		t.Errorf("expected the backup of the Corefile's database, %s, got %s", want, run.source)
	}
	if got := volumeAt(pod, c, run.dir).PersistentVolumeClaim.ClaimName; got != backups.Metadata.Name {
		t.Errorf("expected the kept backups in %s on PersistentVolumeClaim %s, got claim %q", run.dir, backups.Metadata.Name, got)
	}
	claims := map[string]string{} // volume name to claim, "" for another kind of volume
	for _, v := range pod.Volumes {
		claims[v.Name] = v.PersistentVolumeClaim.ClaimName
	}
	if want := []string{dataClaim, backups.Metadata.Name}; !slices.Equal(slices.Sorted(maps.Values(claims)), slices.Sorted(slices.Values(want))) {
		t.Errorf("expected only the volumes of the database and of the kept backups, where backup writes and checks its copy, claims %v, got volumes to claims %v",
			want, claims)
	}
}

// checkBackupMemory checks that container c, which runs backup, requests the memory its checks
// take at their peak, and is limited to no less.
func checkBackupMemory(t *testing.T, where string, c container) {
	t.Helper()
	req, err := quantityBytes(c.Resources.Requests["memory"])
	if err != nil {
		t.Errorf("%s: memory request: %v", where, err)
		return
	}
	limit, err := quantityBytes(c.Resources.Limits["memory"])
	if err != nil {
		t.Errorf("%s: memory limit: %v", where, err)
		return
	}
	if req < backupPeakMemory || limit < req {
		t.Errorf("%s: expected a memory request of at least %d MiB, the peak of backup's checks, and a limit no lower, got %+v",
			where, backupPeakMemory>>20, c.Resources)
	}
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// The systemd units of the nightly backup.
const (
	backupService = "systemd/mailustats-backup.service"
	backupTimer   = "systemd/mailustats-backup.timer"
)

// sharedHardening are the settings that the backup unit must have as the server's unit has
// them; it needs no capability and no network on top.
var sharedHardening = []string{
	"DynamicUser", "EnvironmentFile", "StateDirectoryMode", "UMask", "NoNewPrivileges",
	"ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
	"ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock",
	"ProtectHostname", "ProtectProc", "ProcSubset", "RestrictNamespaces", "RestrictRealtime",
	"RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute", "SystemCallArchitectures",
	"SystemCallFilter", "SystemCallErrorNumber",
}

// TestSystemdBackup checks the nightly backup on one VM: a oneshot unit that runs the tool as
// the server's user on the server's database, and fails loudly; and its timer.
func TestSystemdBackup(t *testing.T) {
	server, backup := unitSettings(readFile(t, "systemd/mailustats.service")), unitSettings(readFile(t, backupService))
	for _, key := range sharedHardening {
		if !slices.Equal(backup[key], server[key]) {
			t.Errorf("%s: expected %s as in mailustats.service, %q, got %q", backupService, key, server[key], backup[key])
		}
	}
	for key, want := range map[string][]string{
		"Type":                    {"oneshot"},
		"User":                    {"mailustats"}, // the dynamic user of mailustats.service, named after it
		"CapabilityBoundingSet":   {""},
		"PrivateNetwork":          {"yes"},
		"RestrictAddressFamilies": {"AF_UNIX"},
	} {
		if !slices.Equal(backup[key], want) {
			t.Errorf("%s: expected %s=%s, got %q", backupService, key, strings.Join(want, " "), backup[key])
		}
	}
	if server["User"] != nil || backup["AmbientCapabilities"] != nil {
		t.Errorf("expected the server's dynamic user named after its unit, and no capability for the backup, got User %q and AmbientCapabilities %q",
			server["User"], backup["AmbientCapabilities"])
	}
	states := strings.Fields(strings.Join(backup["StateDirectory"], " "))
	if len(server["StateDirectory"]) != 1 || !slices.Contains(states, server["StateDirectory"][0]) {
		t.Errorf("expected the server's StateDirectory %q among the backup's, got %q", server["StateDirectory"], states)
	}

	var lines [][]string
	for _, key := range []string{"ExecCondition", "ExecStartPre", "ExecStart", "ExecStartPost", "ExecStopPost"} {
		for _, line := range backup[key] {
			f := strings.Fields(line)
			switch {
			case len(f) > 0 && f[0] == "/usr/local/bin/mailustats":
				lines = append(lines, f[1:])
			case len(f) > 0 && strings.TrimLeft(f[0], "-+!@:") == "/usr/local/bin/mailustats":
				t.Errorf("%s: %s: expected the tool without a prefix, in the sandbox and failing the unit when it fails, got %q", backupService, key, line)
				lines = append(lines, f[1:])
			case key == "ExecStart":
				t.Fatalf("%s: expected ExecStart of /usr/local/bin/mailustats, got %q", backupService, line)
			}
		}
	}
	run := checkBackupRun(t, backupService, lines)
	conf := strings.Fields(server["ExecStart"][0])
	if want := strings.Join(conf[1:], " "); run.source != want {
		t.Errorf("%s: expected the backup of the server's database, %s, got %s", backupService, want, run.source)
	}
	var kept bool
	for _, dir := range states {
		kept = kept || (dir != server["StateDirectory"][0] && filepath.Dir(run.dir) == "/var/lib" && filepath.Base(run.dir) == dir)
	}
	if !kept {
		t.Errorf("%s: expected the kept backups in a StateDirectory of their own, out of the server's reach, got %s (%q)", backupService, run.dir, states)
	}
	if run.metricsFile == "" || !strings.Contains(strings.Join(backup["ExecStopPost"], " "), run.metricsFile) {
		t.Errorf("%s: expected -metrics, and ExecStopPost to hand that file to node_exporter, got %q and %q", backupService, run.metricsFile, backup["ExecStopPost"])
	}

	failed := backup["OnFailure"]
	if len(failed) != 1 {
		t.Fatalf("%s: expected an OnFailure= unit, got %q", backupService, failed)
	}
	hook := unitSettings(readFile(t, filepath.Join("systemd", failed[0])))
	if len(hook["ExecStart"]) != 1 || !slices.Equal(hook["SyslogLevel"], []string{"crit"}) || len(hook["SyslogIdentifier"]) != 1 {
		t.Errorf("%s: expected one ExecStart that logs at priority crit under a SyslogIdentifier, got %v", failed[0], hook)
	}

	timer := unitSettings(readFile(t, backupTimer))
	for key, want := range map[string]string{"Persistent": "true", "WantedBy": "timers.target"} {
		if !slices.Equal(timer[key], []string{want}) {
			t.Errorf("%s: expected %s=%s, got %q", backupTimer, key, want, timer[key])
		}
	}
	if cal := timer["OnCalendar"]; len(cal) != 1 || !regexp.MustCompile(`^(\*-\*-\* |daily$)`).MatchString(cal[0]) || len(timer["RandomizedDelaySec"]) != 1 {
		t.Errorf("%s: expected a daily OnCalendar and a RandomizedDelaySec, got %q and %q", backupTimer, cal, timer["RandomizedDelaySec"])
	}
	if u := timer["Unit"]; u != nil && !slices.Equal(u, []string{filepath.Base(backupService)}) {
		t.Errorf("%s: expected it to start %s, got %q", backupTimer, filepath.Base(backupService), u)
	}
}
