// Package deploy holds the deployment files of mailustats (container image, Kubernetes, systemd,
// Grafana); its tests check that they are consistent with each other and that every Corefile
// here starts the real binary.
package deploy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v2"

	"github.com/mailustats/mailustats/internal/testutil/corednstest"
	"github.com/mailustats/mailustats/internal/testutil/proctest"
	"github.com/mailustats/mailustats/internal/testutil/promtext"
	"github.com/mailustats/mailustats/plugin/sink"
	"github.com/mailustats/mailustats/plugin/sink/sqlite"
)

// Bounds on waiting for a started binary: for its HTTP endpoints, and from SIGTERM to exit.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// metricLabels are the metrics mailustats exports, with their labels.
var metricLabels = map[string][]string{
	"coredns_mailustats_queries_total":       {"server", "result"},
	"coredns_mailustats_dropped_total":       {"server"},
	"coredns_mailustats_sink_errors_total":   {"sink"},
	"coredns_mailustats_sink_dropped_total":  {"sink"},
	"coredns_mailustats_queue_length":        {},
	"coredns_mailustats_active_instances":    {"zone", "version", "window"},
	"coredns_mailustats_new_instances_total": {"zone"},
	"coredns_mailustats_build_info":          {"version", "revision"},
}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"instance", "job"}

// nsAddressEnv sets the name server's address that the deployment Corefiles read from the
// environment to the address the tests serve on.
const nsAddressEnv = "MAILUSTATS_NS_ADDRESS=127.0.0.1"

// validName is a name mailustats records.
const validName = "19.0b7c3d3e-1111-4222-8333-444455556666.stats.mailu.io."

// coreDNSBin is the repository's binary, built for this test run.
var coreDNSBin string

func TestMain(m *testing.M) {
	os.Exit(corednstest.Main(m, &coreDNSBin))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The Kubernetes manifests, as far as the tests look into them.

type object struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   meta              `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	Spec       spec              `yaml:"spec"`
}

type meta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type spec struct {
	Selector labelSelector `yaml:"selector"`
	// Deployment
	Replicas int `yaml:"replicas"`
	Strategy struct {
		Type string `yaml:"type"`
	} `yaml:"strategy"`
	Template podTemplate `yaml:"template"`
	// Service
	Type      string        `yaml:"type"`
	ClusterIP string        `yaml:"clusterIP"`
	Ports     []servicePort `yaml:"ports"`
	// PersistentVolumeClaim
	AccessModes []string `yaml:"accessModes"`
	// CronJob
	Schedule                   string `yaml:"schedule"`
	ConcurrencyPolicy          string `yaml:"concurrencyPolicy"`
	SuccessfulJobsHistoryLimit *int   `yaml:"successfulJobsHistoryLimit"`
	FailedJobsHistoryLimit     *int   `yaml:"failedJobsHistoryLimit"`
	JobTemplate                struct {
		Spec struct {
			BackoffLimit            *int        `yaml:"backoffLimit"`
			ActiveDeadlineSeconds   *int        `yaml:"activeDeadlineSeconds"`
			TTLSecondsAfterFinished *int        `yaml:"ttlSecondsAfterFinished"`
			Template                podTemplate `yaml:"template"`
		} `yaml:"spec"`
	} `yaml:"jobTemplate"`
	// ServiceMonitor
	NamespaceSelector map[string]interface{} `yaml:"namespaceSelector"`
	Endpoints         []struct {
		Port string `yaml:"port"`
		Path string `yaml:"path"`
	} `yaml:"endpoints"`
}

// labelSelector is the labels a selector requires: a Deployment's or PodDisruptionBudget's
// spec.selector.matchLabels, or a Service's spec.selector.
type labelSelector map[string]string

func (s *labelSelector) UnmarshalYAML(unmarshal func(interface{}) error) error {
	var withMatch struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	if err := unmarshal(&withMatch); err == nil && withMatch.MatchLabels != nil {
		*s = withMatch.MatchLabels
		return nil
	}
	var labels map[string]string
	err := unmarshal(&labels)
	*s = labels
	return err
}

type podTemplate struct {
	Metadata meta    `yaml:"metadata"`
	Spec     podSpec `yaml:"spec"`
}

type podSpec struct {
	SecurityContext struct {
		securityIdentity `yaml:",inline"`
		FSGroup          *int `yaml:"fsGroup"`
	} `yaml:"securityContext"`
	RestartPolicy string `yaml:"restartPolicy"`
	Affinity      struct {
		PodAffinity struct {
			Required []struct {
				LabelSelector labelSelector `yaml:"labelSelector"`
				TopologyKey   string        `yaml:"topologyKey"`
			} `yaml:"requiredDuringSchedulingIgnoredDuringExecution"`
		} `yaml:"podAffinity"`
	} `yaml:"affinity"`
	InitContainers []container `yaml:"initContainers"`
	Containers     []container `yaml:"containers"`
	Volumes        []volume    `yaml:"volumes"`
}

// securityIdentity is what a pod's or a container's securityContext says of the user and the
// seccomp profile; a container's settings override its pod's.
type securityIdentity struct {
	RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
	RunAsUser      *int  `yaml:"runAsUser"`
	RunAsGroup     *int  `yaml:"runAsGroup"`
	SeccompProfile struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

func (id securityIdentity) String() string {
	show := func(p any) string {
		switch v := p.(type) {
		case *bool:
			if v != nil {
				return fmt.Sprint(*v)
			}
		case *int:
			if v != nil {
				return fmt.Sprint(*v)
			}
		}
		return "unset"
	}
	return fmt.Sprintf("runAsNonRoot %s, runAsUser %s, seccompProfile %q", show(id.RunAsNonRoot), show(id.RunAsUser), id.SeccompProfile.Type)
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap struct {
		Name  string `yaml:"name"`
		Items []struct {
			Key  string `yaml:"key"`
			Path string `yaml:"path"`
		} `yaml:"items"`
	} `yaml:"configMap"`
	PersistentVolumeClaim struct {
		ClaimName string `yaml:"claimName"`
	} `yaml:"persistentVolumeClaim"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			SecretKeyRef struct {
				Name     string `yaml:"name"`
				Key      string `yaml:"key"`
				Optional *bool  `yaml:"optional"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports           []containerPort `yaml:"ports"`
	SecurityContext struct {
		securityIdentity         `yaml:",inline"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Add  []string `yaml:"add"`
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	LivenessProbe  probe `yaml:"livenessProbe"`
	ReadinessProbe probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	Protocol      string `yaml:"protocol"`
}

type probe struct {
	HTTPGet struct {
		Path string      `yaml:"path"`
		Port interface{} `yaml:"port"`
	} `yaml:"httpGet"`
}

type servicePort struct {
	Name       string      `yaml:"name"`
	Port       int         `yaml:"port"`
	TargetPort interface{} `yaml:"targetPort"`
	Protocol   string      `yaml:"protocol"`
}

// manifests parses every document of a Kubernetes file, by kind.
func manifests(t *testing.T, path string) map[string]object {
	t.Helper()
	text := readFile(t, path)
	objects := map[string]object{}
	for i, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(text, -1) {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("%s: document %d: expected YAML, got %v", path, i, err)
		}
		if o.Kind == "" && o.APIVersion == "" {
			continue // comments only
		}
		if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
			t.Fatalf("%s: document %d: expected apiVersion, kind and metadata.name, got %+v", path, i, o)
		}
		if o.Metadata.Namespace != "" {
			t.Errorf("%s: %s: expected no namespace (applied with -n), got %q", path, o.Kind, o.Metadata.Namespace)
		}
		if _, dup := objects[o.Kind]; dup {
			t.Fatalf("%s: expected one %s, got two", path, o.Kind)
		}
		objects[o.Kind] = o
	}
	return objects
}

// Kubernetes files: the two ways to run the server, the sidecar, the backups of the SQLite
// way, and the Prometheus operator's beside them.
const (
	kubernetesApp     = "kubernetes/mailustats.yaml"
	kubernetesSQLite  = "kubernetes/mailustats-sqlite.yaml"
	kubernetesSidecar = "kubernetes/sidecar.yaml"
	kubernetesBackup  = "kubernetes/backup-cronjob.yaml"
	kubernetesMonitor = "kubernetes/servicemonitor.yaml"
)

// secretName is the Secret of the servers' secrets, which no manifest holds: each file that
// reads it shows the kubectl command that creates it.
const secretName = "mailustats-db"

// imageUser is the user of the image, its Dockerfile's USER, as runAsUser names it.
const imageUser = 65532

func TestKubernetes(t *testing.T) {
	objects := manifests(t, kubernetesApp)
	checkKinds(t, kubernetesApp, objects, "ConfigMap", "Deployment", "PodDisruptionBudget", "Service")
	cm, dep, svc := objects["ConfigMap"], objects["Deployment"], objects["Service"]

	corefile := cm.Data["Corefile"]
	for _, want := range []string{"sink postgres {$MAILUSTATS_DSN}", "hash_ids {$MAILUSTATS_HASH_SECRET}", "api 127.0.0.1:9154", "ready :8181\n"} {
		if !strings.Contains(corefile, want) {
			t.Errorf("ConfigMap Corefile: expected %q, got\n%s", want, corefile)
		}
	}
	if addrs := corefileAddrs(corefile); addrs["dns"] != "53" || addrs["prometheus"] != "9153" {
		t.Errorf("expected DNS on 53 and metrics on 9153, got %v", addrs)
	}

	if dep.Spec.Replicas != 2 {
		t.Errorf("expected 2 replicas, got %d", dep.Spec.Replicas)
	}
	podLabels := dep.Spec.Template.Metadata.Labels
	for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget"} {
		if sel := objects[kind].Spec.Selector; !selects(sel, podLabels) {
			t.Errorf("%s: expected its selector to match the pod labels %v, got %v", kind, podLabels, sel)
		}
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("expected one container, got %d", len(pod.Containers))
	}
	ports := checkServer(t, kubernetesApp, pod, pod.Containers[0], cm, "Corefile", true)
	checkPublicService(t, svc, ports)
}

// TestKubernetesSQLite checks the one-replica way with SQLite on a volume against its Corefile,
// and against mailustats.yaml, whose objects it replaces.
func TestKubernetesSQLite(t *testing.T) {
	objects := manifests(t, kubernetesSQLite)
	checkKinds(t, kubernetesSQLite, objects, "ConfigMap", "Deployment", "PersistentVolumeClaim", "Service")
	cm, dep, pvc := objects["ConfigMap"], objects["Deployment"], objects["PersistentVolumeClaim"]
	app := manifests(t, kubernetesApp)
	for _, kind := range []string{"ConfigMap", "Deployment", "Service"} {
		if got, want := objects[kind].Metadata.Name, app[kind].Metadata.Name; got != want {
			t.Errorf("%s: expected the name of %s's, %q, which it replaces, got %q", kind, kubernetesApp, want, got)
		}
	}

	if dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != "Recreate" {
		t.Errorf("expected one replica replaced by Recreate (one SQLite writer, a ReadWriteOnce volume), got %d and %q",
			dep.Spec.Replicas, dep.Spec.Strategy.Type)
	}
	if !slices.Equal(pvc.Spec.AccessModes, []string{"ReadWriteOnce"}) {
		t.Errorf("PersistentVolumeClaim %s: expected ReadWriteOnce, got %v", pvc.Metadata.Name, pvc.Spec.AccessModes)
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("expected one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if want := app["Deployment"].Spec.Template.Spec.Containers[0].Image; c.Image != want {
		t.Errorf("expected the image of %s, %q, got %q", kubernetesApp, want, c.Image)
	}
	if fs := pod.SecurityContext.FSGroup; fs == nil || *fs != imageUser {
		t.Errorf("expected fsGroup %d, so that the volume is the image user's, got %v", imageUser, fs)
	}
	if got := volumeAt(pod, c, sqliteDir(t, cm.Data["Corefile"])).PersistentVolumeClaim.ClaimName; got != pvc.Metadata.Name {
		t.Errorf("expected the SQLite database's directory on PersistentVolumeClaim %s, got %q", pvc.Metadata.Name, got)
	}
	ports := checkServer(t, kubernetesSQLite, pod, c, cm, "Corefile", true)
	checkPublicService(t, objects["Service"], ports)
}

// TestKubernetesSidecar checks that the sidecar and the frontend it joins share nothing but the
// hand-off on loopback: no port, no port name; and that the sidecar is as locked down as the
// Deployment, on its own.
func TestKubernetesSidecar(t *testing.T) {
	objects := manifests(t, kubernetesSidecar)
	checkKinds(t, kubernetesSidecar, objects, "ConfigMap", "Deployment")
	cm, dep := objects["ConfigMap"], objects["Deployment"]
	pod := dep.Spec.Template.Spec
	var sidecar container
	frontendPorts := map[int]string{}
	names := map[string]bool{}
	for _, c := range pod.Containers {
		if c.Name == "mailustats" {
			sidecar = c
		} else {
			for _, p := range c.Ports {
				frontendPorts[p.ContainerPort] = c.Name
			}
		}
		for _, p := range c.Ports {
			if names[p.Name] {
				t.Errorf("container %s: expected port names unique in the pod, got %q twice", c.Name, p.Name)
			}
			names[p.Name] = true
		}
	}
	if len(pod.Containers) != 2 || sidecar.Name == "" {
		t.Fatalf("expected a frontend and the container mailustats, got %d containers", len(pod.Containers))
	}

	const key = "mailustats.Corefile"
	corefile := cm.Data[key]
	addrs := corefileAddrs(corefile)
	if addrs["prometheus"] == "" || addrs["prometheus"] == "9153" {
		t.Errorf("expected the sidecar's metrics on a port other than CoreDNS's default 9153, got %q", addrs["prometheus"])
	}
	for _, name := range []string{"prometheus", "health", "ready", "dns"} {
		if port, _ := strconv.Atoi(addrs[name]); frontendPorts[port] != "" {
			t.Errorf("expected the sidecar's %s port %d free in the pod, got it used by %s", name, port, frontendPorts[port])
		}
	}
	if !strings.Contains(corefile, "bind 127.0.0.1\n") {
		t.Errorf("expected the sidecar's DNS on loopback only (bind 127.0.0.1), got\n%s", corefile)
	}
	if got, want := corefileForward(cm.Data["Corefile"], "stats.mailu.io"), "127.0.0.1:"+addrs["dns"]; got != want {
		t.Errorf("expected the frontend to hand stats.mailu.io to the sidecar, %s, got %q", want, got)
	}
	// The pod's settings are the frontend's: the sidecar must not depend on them.
	checkIdentity(t, kubernetesSidecar+": container mailustats without the pod's securityContext", podSpec{}, sidecar)
	checkServer(t, kubernetesSidecar, pod, sidecar, cm, key, false)
}

// checkKinds checks that a manifest holds exactly the kinds want, sorted.
func checkKinds(t *testing.T, path string, objects map[string]object, want ...string) {
	t.Helper()
	kinds := slices.Sorted(maps.Keys(objects))
	if !slices.Equal(kinds, want) {
		t.Fatalf("%s: expected kinds %v, got %v", path, want, kinds)
	}
}

// checkServer checks the mailustats container c of pod against the Corefile in key of the
// ConfigMap cm: locked down and non-root; its probes on named ports that its Corefile listens
// on; every port it listens on listed and named, but for DNS on loopback in a sidecar (public
// false); every environment variable the Corefile reads set, the secrets from a Secret that
// must exist and that path's kubectl command creates; resources; and the Corefile mounted
// where the image reads it. It returns the container's ports, "53/UDP" to their names.
func checkServer(t *testing.T, path string, pod podSpec, c container, cm object, key string, public bool) map[string]string {
	t.Helper()
	where := path + ": container " + c.Name
	corefile := cm.Data[key]
	addrs := corefileAddrs(corefile)

	sc := c.SecurityContext
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem ||
		!slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || !slices.Equal(sc.Capabilities.Add, []string{"NET_BIND_SERVICE"}) {
		t.Errorf("%s: expected no privilege escalation, a read-only root and only NET_BIND_SERVICE, got %+v", where, sc)
	}
	checkIdentity(t, where, pod, c)

	ports := map[string]string{} // "53/UDP" -> name
	byName := map[string]int{}   // name -> port
	for _, p := range c.Ports {
		ports[fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)] = p.Name
		byName[p.Name] = p.ContainerPort
		if p.Name == "" {
			t.Errorf("%s: expected a name for port %d/%s", where, p.ContainerPort, p.Protocol)
		}
	}
	want := []string{addrs["prometheus"] + "/TCP", addrs["health"] + "/TCP", addrs["ready"] + "/TCP"}
	if public {
		want = append(want, addrs["dns"]+"/UDP", addrs["dns"]+"/TCP")
	}
	for _, w := range want {
		if _, ok := ports[w]; !ok {
			t.Errorf("%s: expected container port %s (from the Corefile), got %v", where, w, ports)
		}
	}
	for _, pr := range []struct {
		kind, path, addr string
		probe            probe
	}{{"liveness", "/health", "health", c.LivenessProbe}, {"readiness", "/ready", "ready", c.ReadinessProbe}} {
		p := pr.probe.HTTPGet
		name, named := p.Port.(string)
		if p.Path != pr.path || !named || strconv.Itoa(byName[name]) != addrs[pr.addr] {
			t.Errorf("%s: expected %s GET %s on the named port of the Corefile's %s, %s, got %s on %v (ports %v)",
				where, pr.kind, pr.path, pr.addr, addrs[pr.addr], p.Path, p.Port, byName)
		}
	}

	documented := secretKeys(readFile(t, path))
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e.Name] = true
		ref := e.ValueFrom.SecretKeyRef
		if ref.Name == "" {
			continue
		}
		if ref.Name != secretName || !documented[ref.Key] {
			t.Errorf("%s: env %s: expected a key of Secret %s that the file's kubectl command creates (%v), got %s/%s",
				where, e.Name, secretName, slices.Sorted(maps.Keys(documented)), ref.Name, ref.Key)
		}
		if ref.Optional == nil || *ref.Optional {
			t.Errorf("%s: env %s: expected optional: false, so that a missing Secret stops the pod, got %v", where, e.Name, ref.Optional)
		}
	}
	for _, m := range regexp.MustCompile(`\{\$(\w+)\}`).FindAllStringSubmatch(corefile, -1) {
		if !env[m[1]] {
			t.Errorf("%s: expected the container to set %s, which the Corefile reads", where, m[1])
		}
	}

	if c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" || c.Resources.Requests["cpu"] == "" {
		t.Errorf("%s: expected cpu and memory requests and a memory limit, got %+v", where, c.Resources)
	}

	v := volumeAt(pod, c, "/etc/coredns")
	projected := v.ConfigMap.Items == nil && key == "Corefile"
	for _, it := range v.ConfigMap.Items {
		projected = projected || (it.Key == key && it.Path == "Corefile")
	}
	if v.ConfigMap.Name != cm.Metadata.Name || !projected {
		t.Errorf("%s: expected ConfigMap %s's %s mounted as /etc/coredns/Corefile, where the image's entrypoint reads it, got %+v",
			where, cm.Metadata.Name, key, v)
	}
	return ports
}

// checkIdentity checks that container c of pod runs as the image's non-root user under the
// runtime's seccomp profile, set on the container or on the pod.
func checkIdentity(t *testing.T, where string, pod podSpec, c container) {
	t.Helper()
	p, o := pod.SecurityContext.securityIdentity, c.SecurityContext.securityIdentity
	var id securityIdentity
	id.RunAsNonRoot, id.RunAsUser = cmp.Or(o.RunAsNonRoot, p.RunAsNonRoot), cmp.Or(o.RunAsUser, p.RunAsUser)
	id.SeccompProfile.Type = cmp.Or(o.SeccompProfile.Type, p.SeccompProfile.Type)
	if id.RunAsNonRoot == nil || !*id.RunAsNonRoot || id.RunAsUser == nil || *id.RunAsUser != imageUser || id.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("%s: expected runAsNonRoot, runAsUser %d and seccompProfile RuntimeDefault, got %v", where, imageUser, id)
	}
}

// checkPublicService checks the LoadBalancer of port 53 against the container's ports.
func checkPublicService(t *testing.T, svc object, ports map[string]string) {
	t.Helper()
	if svc.Spec.Type != "LoadBalancer" {
		t.Errorf("expected a LoadBalancer Service, got %q", svc.Spec.Type)
	}
	var svcPorts []string
	for _, p := range svc.Spec.Ports {
		svcPorts = append(svcPorts, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		target := fmt.Sprint(p.TargetPort)
		if name, ok := ports[target+"/"+p.Protocol]; !ok && !slices.Contains(mapValues(ports), target) {
			t.Errorf("Service port %d/%s: expected its targetPort %q to be a container port, got %v", p.Port, p.Protocol, target, ports)
		} else if ok && name == "" {
			t.Errorf("Service port %d/%s: expected a named container port", p.Port, p.Protocol)
		}
	}
	slices.Sort(svcPorts)
	if want := []string{"53/TCP", "53/UDP"}; !slices.Equal(svcPorts, want) {
		t.Errorf("expected Service ports %v, got %v", want, svcPorts)
	}
}

// volumeAt returns the volume of pod that container c mounts at path; the zero volume if none.
func volumeAt(pod podSpec, c container, path string) volume {
	for _, m := range c.VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name {
				return v
			}
		}
	}
	return volume{}
}

// secretCommand matches the kubectl command in a manifest's comments that creates the Secret,
// up to the end of its continued lines.
var secretCommand = regexp.MustCompile(`kubectl .*create secret generic ` + secretName + `((?:.*\\\n)*.*)`)

// secretKeys returns the keys of the Secret that the kubectl command in a manifest creates.
func secretKeys(manifest string) map[string]bool {
	keys := map[string]bool{}
	if m := secretCommand.FindStringSubmatch(manifest); m != nil {
		for _, k := range regexp.MustCompile(`--from-literal=([\w.-]+)=`).FindAllStringSubmatch(m[1], -1) {
			keys[k[1]] = true
		}
	}
	return keys
}

// sqliteDir returns the directory of a Corefile's SQLite database.
func sqliteDir(t *testing.T, corefile string) string {
	t.Helper()
	m := regexp.MustCompile(`sink sqlite (\S+)`).FindStringSubmatch(corefile)
	if m == nil {
		t.Fatalf("expected a sink sqlite line, got\n%s", corefile)
	}
	return filepath.Dir(m[1])
}

// corefileForward returns where the server block of zone forwards to.
func corefileForward(corefile, zone string) string {
	m := regexp.MustCompile(`(?s)` + regexp.QuoteMeta(zone) + `:\d+ \{[^}]*?\bforward \. (\S+)`).FindStringSubmatch(corefile)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestNoSecretInManifests checks that no Kubernetes file holds a Secret, whose placeholder
// applied as it is would become a permanent key.
func TestNoSecretInManifests(t *testing.T) {
	paths, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		if _, ok := manifests(t, path)["Secret"]; ok {
			t.Errorf("%s: expected no Secret (created with kubectl instead), got one", path)
		}
	}
}

// TestServiceMonitor checks that the Prometheus operator's ServiceMonitor scrapes the pods of
// the Deployment on the Corefile's prometheus port, through a Service inside the cluster.
func TestServiceMonitor(t *testing.T) {
	app, objects := manifests(t, kubernetesApp), manifests(t, kubernetesMonitor)
	sm, svc := objects["ServiceMonitor"], objects["Service"]
	if len(objects) != 2 || sm.APIVersion != "monitoring.coreos.com/v1" || svc.APIVersion != "v1" {
		t.Fatalf("expected a v1 Service and a monitoring.coreos.com/v1 ServiceMonitor, got %v", objects)
	}
	if svc.Spec.Type != "ClusterIP" || svc.Spec.ClusterIP != "None" {
		t.Errorf("Service %s: expected a headless ClusterIP Service, got type %q, clusterIP %q", svc.Metadata.Name, svc.Spec.Type, svc.Spec.ClusterIP)
	}
	if !selects(sm.Spec.Selector, svc.Metadata.Labels) || selects(sm.Spec.Selector, app["Service"].Metadata.Labels) {
		t.Errorf("ServiceMonitor: expected its selector %v to match the labels of Service %s, %v, and not the public Service's, %v",
			sm.Spec.Selector, svc.Metadata.Name, svc.Metadata.Labels, app["Service"].Metadata.Labels)
	}
	// Neither has a namespace (manifests checks it): both are applied with -n into one, and
	// without a namespaceSelector the ServiceMonitor looks in its own.
	if sm.Spec.NamespaceSelector != nil {
		t.Errorf("ServiceMonitor: expected no namespaceSelector, so that it finds the Service in its own namespace, got %v", sm.Spec.NamespaceSelector)
	}

	pod := app["Deployment"].Spec.Template
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("expected one container, got %d", len(pod.Spec.Containers))
	}
	if !selects(svc.Spec.Selector, pod.Metadata.Labels) {
		t.Errorf("Service %s: expected its selector %v to match the pod labels %v", svc.Metadata.Name, svc.Spec.Selector, pod.Metadata.Labels)
	}
	containerPorts := map[string]int{} // name -> port
	for _, p := range pod.Spec.Containers[0].Ports {
		containerPorts[p.Name] = p.ContainerPort
	}
	metricsPort := corefileAddrs(app["ConfigMap"].Data["Corefile"])["prometheus"]
	svcPorts := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		svcPorts[p.Name] = true
		if target := fmt.Sprint(p.TargetPort); fmt.Sprint(containerPorts[target]) != metricsPort {
			t.Errorf("Service %s port %q: expected its targetPort to name the container port of the Corefile's prometheus, %s, got %q (container ports %v)",
				svc.Metadata.Name, p.Name, metricsPort, target, containerPorts)
		}
	}
	if len(sm.Spec.Endpoints) == 0 {
		t.Fatal("ServiceMonitor: expected an endpoint, got none")
	}
	for _, e := range sm.Spec.Endpoints {
		if !svcPorts[e.Port] || e.Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoint: expected /metrics on a port name of Service %s, %v, got %q on %q", svc.Metadata.Name, svcPorts, e.Path, e.Port)
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// corefileAddrs returns the ports of a Corefile's single server block ("dns") and of its health,
// ready, prometheus and mailustats api lines.
func corefileAddrs(corefile string) map[string]string {
	addrs := map[string]string{}
	for _, line := range strings.Split(corefile, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		_, port, err := net.SplitHostPort(f[1])
		switch {
		case f[len(f)-1] == "{" && len(f) == 2 && strings.Contains(f[0], ":"):
			_, port, _ = net.SplitHostPort(f[0])
			addrs["dns"] = port
		case err == nil && slices.Contains([]string{"health", "ready", "prometheus", "api"}, f[0]):
			addrs[f[0]] = port
		}
	}
	return addrs
}

func TestDockerfile(t *testing.T) {
	df := readFile(t, "Dockerfile")
	for _, want := range []string{
		"FROM golang:1.26-bookworm AS build",
		"libcap2-bin",
		`CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o /coredns ./build`,
		`CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o ` + imageTool + " ./cmd/mailustats",
		"setcap cap_net_bind_service=+ep /coredns",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"COPY --from=build /coredns /coredns",
		"COPY --from=build " + imageTool + " " + imageTool,
		"COPY deploy/Corefile /etc/coredns/Corefile",
		"--chown=65532:65532",
		fmt.Sprintf("USER %d:%d", imageUser, imageUser),
		"VOLUME /var/lib/mailustats",
		"EXPOSE 53/udp 53/tcp 9153/tcp",
		`ENTRYPOINT ["/coredns", "-conf", "/etc/coredns/Corefile"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile: expected %q", want)
		}
	}
	corefile := readFile(t, "Corefile")
	if !strings.Contains(corefile, "sink sqlite /var/lib/mailustats/") {
		t.Error("Corefile: expected the SQLite database on the image's volume /var/lib/mailustats")
	}
	if a := corefileAddrs(corefile); a["dns"] != "53" || a["prometheus"] != "9153" || a["health"] != "8080" || a["ready"] != "8181" {
		t.Errorf("Corefile: expected DNS on 53, metrics on 9153, health on 8080, ready on 8181, got %v", a)
	}
	ignore := readFile(t, "Dockerfile.dockerignore")
	if !strings.Contains(ignore, "!deploy/Corefile") {
		t.Error("Dockerfile.dockerignore: expected deploy/Corefile kept in the context")
	}
}

// TestDockerfileIdentity checks that the image carries the OCI labels, and that the build
// arguments VERSION and REVISION stamp both binaries as the Makefile's LDFLAGS stamp them.
func TestDockerfileIdentity(t *testing.T) {
	stages := strings.Split(readFile(t, "Dockerfile"), "\nFROM ")
	if len(stages) != 3 {
		t.Fatalf("expected two stages, got %d", len(stages)-1)
	}
	build, final := stages[1], stages[2]

	labels := map[string]string{}
	for _, m := range regexp.MustCompile(`(org\.opencontainers\.image\.\w+)="([^"]*)"`).FindAllStringSubmatch(final, -1) {
		labels[m[1]] = m[2]
	}
	for _, name := range []string{"title", "description", "source", "licenses"} {
		if labels["org.opencontainers.image."+name] == "" {
			t.Errorf("expected the label org.opencontainers.image.%s, got %v", name, labels)
		}
	}
	for label, arg := range map[string]string{"version": "VERSION", "revision": "REVISION", "created": "CREATED"} {
		if got := labels["org.opencontainers.image."+label]; got != "${"+arg+"}" || !strings.Contains(final, "\nARG "+arg+"\n") {
			t.Errorf("expected the label org.opencontainers.image.%s from ARG %s of the final stage, got %q", label, arg, got)
		}
	}

	// The Makefile's -X flags, with its variables as the Dockerfile's build arguments.
	m := regexp.MustCompile(`(?m)^LDFLAGS = (.+)$`).FindStringSubmatch(readFile(t, "../Makefile"))
	if m == nil {
		t.Fatal("Makefile: expected LDFLAGS = ...")
	}
	xflags := regexp.MustCompile(`-X (\S+)=\$\((\w+)\)`).FindAllStringSubmatch(m[1], -1)
	if len(xflags) != 2 {
		t.Fatalf("Makefile: expected the -X flags of the version and the revision, got %q", m[1])
	}
	for _, x := range xflags {
		want := fmt.Sprintf("-X %s=${%s}", x[1], x[2])
		if !strings.Contains(build, want) || !strings.Contains(build, "\nARG "+x[2]+"\n") {
			t.Errorf("expected the build stage to declare ARG %s and stamp %q as the Makefile does, got\n%s", x[2], want, build)
		}
	}
}

// unitSettings reads a systemd unit's Key=Value lines; a repeated key keeps every value.
func unitSettings(unit string) map[string][]string {
	settings := map[string][]string{}
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			settings[k] = append(settings[k], v)
		}
	}
	return settings
}

func TestSystemdUnit(t *testing.T) {
	s := unitSettings(readFile(t, "systemd/mailustats.service"))
	for key, want := range map[string]string{
		"ExecStart":               "/usr/local/bin/coredns -conf /etc/mailustats/Corefile",
		"ExecReload":              "/bin/kill -USR1 $MAINPID",
		"Restart":                 "on-failure",
		"EnvironmentFile":         "-/etc/mailustats/env",
		"DynamicUser":             "yes",
		"StateDirectory":          "mailustats",
		"AmbientCapabilities":     "CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet":   "CAP_NET_BIND_SERVICE",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter":        "@system-service",
	} {
		if got := s[key]; !slices.Contains(got, want) {
			t.Errorf("expected %s=%s, got %q", key, want, got)
		}
	}
	corefile := readFile(t, "systemd/Corefile")
	if !strings.Contains(corefile, "sink sqlite /var/lib/mailustats/") {
		t.Error("systemd/Corefile: expected the SQLite database in the StateDirectory /var/lib/mailustats")
	}
	for _, m := range regexp.MustCompile(`\{\$(\w+)\}`).FindAllStringSubmatch(corefile, -1) {
		if !strings.Contains(readFile(t, "systemd/mailustats.service"), m[1]) {
			t.Errorf("expected the unit to mention %s, which its Corefile reads", m[1])
		}
	}
}

// TestSystemdVerify runs systemd-analyze verify on every unit of systemd/ at once, so that the
// units they name are checked too.
func TestSystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	var units []string
	for _, pattern := range []string{"systemd/*.service", "systemd/*.timer"} {
		matches, _ := filepath.Glob(pattern) // the patterns are valid
		units = append(units, matches...)
	}
	// verify wants the binaries of ExecStart to exist: point them at those built here.
	installed := strings.NewReplacer("/usr/local/bin/coredns", coreDNSBin, "/usr/local/bin/mailustats", toolBin())
	dir := t.TempDir()
	var paths []string
	for _, unit := range units {
		path := filepath.Join(dir, filepath.Base(unit))
		if err := os.WriteFile(path, []byte(installed.Replace(readFile(t, unit))), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("expected systemd-analyze verify of %v to pass silently, got %v\n%s", units, err, out)
	}
}

func TestGrafana(t *testing.T) {
	var dash struct {
		SchemaVersion int `json:"schemaVersion"`
		Templating    struct {
			List []variable `json:"list"`
		} `json:"templating"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal([]byte(readFile(t, "grafana/mailustats.json")), &dash); err != nil {
		t.Fatalf("expected JSON, got %v", err)
	}
	if dash.SchemaVersion < 36 {
		t.Errorf("expected schemaVersion 36 or later, got %d", dash.SchemaVersion)
	}
	vars := map[string]variable{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = v
	}
	if v := vars["DS_PROMETHEUS"]; v.Type != "datasource" || v.Query != "prometheus" {
		t.Errorf("expected the variable DS_PROMETHEUS, a Prometheus data source, got %+v", v)
	}
	for label, matcher := range dashboardFilters {
		checkQueryVariable(t, vars[label], label, matcher)
	}
	checkWindows(t, vars["window"], exportedWindows(t))

	used := map[string]bool{}
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			if ids[p.ID] {
				t.Errorf("panel %q: expected a unique id, got %d again", p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("panel %q: expected a gridPos", p.Title)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: expected a query", p.Title)
			}
			for _, ds := range append([]datasource{p.Datasource}, targetSources(p.Targets)...) {
				if ds.UID != "${DS_PROMETHEUS}" {
					t.Errorf("panel %q: expected the data source ${DS_PROMETHEUS}, got %q", p.Title, ds.UID)
				}
			}
			for _, tg := range p.Targets {
				metrics, err := checkPromQL(tg.Expr)
				if err != nil {
					t.Errorf("panel %q: %v", p.Title, err)
				}
				if err := checkDashboardExpr(tg.Expr); err != nil {
					t.Errorf("panel %q: %v", p.Title, err)
				}
				for _, m := range metrics {
					used[m] = true
				}
			}
		}
	}
	walk(dash.Panels)
	for m := range metricLabels {
		if !used[m] {
			t.Errorf("expected a panel showing %s", m)
		}
	}
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// variable is a dashboard's template variable, as far as the tests look into it.
type variable struct {
	Name       string        `json:"name"`
	Type       string        `json:"type"`
	Query      variableQuery `json:"query"`
	Datasource datasource    `json:"datasource"`
	Multi      bool          `json:"multi"`
	Current    struct {
		Value interface{} `json:"value"`
	} `json:"current"`
	Options []struct {
		Value string `json:"value"`
	} `json:"options"`
}

// variableQuery is a variable's query: a string, or for a query variable the object that holds
// it, as Grafana writes them.
type variableQuery string

func (q *variableQuery) UnmarshalJSON(b []byte) error {
	var text string
	if err := json.Unmarshal(b, &text); err == nil {
		*q = variableQuery(text)
		return nil
	}
	var object struct {
		Query string `json:"query"`
	}
	err := json.Unmarshal(b, &object)
	*q = variableQuery(object.Query)
	return err
}

// dashboardFilters are the dashboard's variables read from the metrics' labels, by label, with
// the matcher that every selector of a metric with that label must have: job and instance,
// which every scraped series has, several at once; zone, one at a time, since the gauges of two
// zones must not add up.
var dashboardFilters = map[string]string{"job": `=~"$job"`, "instance": `=~"$instance"`, "zone": `="$zone"`}

// labelValues is a query variable's query: Grafana's label_values(SELECTOR, LABEL).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)

// checkQueryVariable checks that v offers the values of label from a mailustats metric that
// has it, and that it offers several values at once only when matcher is a regular expression.
func checkQueryVariable(t *testing.T, v variable, label, matcher string) {
	t.Helper()
	m := labelValues.FindStringSubmatch(string(v.Query))
	if v.Type != "query" || v.Datasource.UID != "${DS_PROMETHEUS}" || m == nil || m[2] != label {
		t.Errorf("variable %q: expected a query variable on ${DS_PROMETHEUS} of label_values(METRIC, %s), got %+v", label, label, v)
		return
	}
	metrics, err := checkPromQL(m[1])
	if err != nil {
		t.Errorf("variable %q: %v", label, err)
	}
	for _, metric := range metrics {
		if !slices.Contains(metricLabels[metric], label) && !slices.Contains(targetLabels, label) {
			t.Errorf("variable %q: expected a metric with the label %s, got %s", label, label, metric)
		}
	}
	if v.Multi && !strings.HasPrefix(matcher, "=~") {
		t.Errorf("variable %q: expected one value at a time, as the panels match it with %s", label, matcher)
	}
}

// checkWindows checks that the window variable offers exactly the windows want, in order, and
// starts on one of them.
func checkWindows(t *testing.T, v variable, want []string) {
	t.Helper()
	var opts []string
	for _, o := range v.Options {
		opts = append(opts, o.Value)
	}
	if v.Type != "custom" || !slices.Equal(opts, want) || string(v.Query) != strings.Join(want, ",") || !slices.Contains(want, fmt.Sprint(v.Current.Value)) {
		t.Errorf("variable window: expected a custom variable of the windows the binary exports, %v, and one of them current, got query %q, options %v, current %v",
			want, v.Query, opts, v.Current.Value)
	}
}

// seenInstance is the instance exportedWindows stores, announced today.
const seenInstance = "0b7c3d3e-1111-4222-8333-444455556666"

// windowLabel is a value of the window label of active_instances: a number of days.
var windowLabel = regexp.MustCompile(`^([1-9][0-9]*)d$`)

// exportedWindows starts the binary on the image's Corefile with one instance seen today in
// its database, and returns the windows of the active_instances series it exports, shortest
// first: every window, since each ends today.
func exportedWindows(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	storeToday(t, filepath.Join(data, "mailustats.db"))
	corefile, names := localize(t, readFile(t, "Corefile"), data)
	srv := corednstest.Start(t, corednstest.Config{Bin: coreDNSBin, Dir: dir, Conf: corednstest.Template(corefile), Ports: names,
		Env: []string{nsAddressEnv}})
	metrics := net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Ports["prometheus"]))
	days := map[string]int{}
	for deadline := time.Now().Add(startTimeout); len(days) == 0; { // the gauges' first reading
		if time.Now().After(deadline) {
			t.Fatalf("expected coredns_mailustats_active_instances on %s within %s, got none", metrics, startTimeout)
		}
		days = activeWindows(t, metrics)
		time.Sleep(100 * time.Millisecond) // polling interval, not an assertion
	}
	if _, code := srv.Terminate(t, stopTimeout); code != 0 {
		t.Errorf("expected exit status 0 after SIGTERM, got %d", code)
	}
	windows := slices.Collect(maps.Keys(days))
	slices.SortFunc(windows, func(a, b string) int { return cmp.Compare(days[a], days[b]) })
	return windows
}

// storeToday stores seenInstance, announced now, in a new SQLite database at path.
func storeToday(t *testing.T, path string) {
	t.Helper()
	opener, err := sqlite.Parse([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	s, err := opener.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(t.Context(), sink.Batch{ID: "deploy-test", Records: []sink.Record{{Time: time.Now(), Version: "19", Instance: seenInstance}}}); err != nil {
		t.Fatal(err)
	}
}

// activeWindows scrapes the metrics at addr and returns the windows of its active_instances
// series, with their days; none when the scrape fails.
func activeWindows(t *testing.T, addr string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	m, err := promtext.Scrape(ctx, addr)
	if err != nil {
		return nil
	}
	days := map[string]int{}
	for _, s := range m["coredns_mailustats_active_instances"] {
		w := windowLabel.FindStringSubmatch(s.Labels["window"])
		if w == nil {
			t.Fatalf("active_instances: expected a window of N days such as 7d, got %q", s.Labels["window"])
		}
		days[w[0]], _ = strconv.Atoi(w[1])
	}
	return days
}

type panel struct {
	ID         int        `json:"id"`
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	Datasource datasource `json:"datasource"`
	GridPos    struct {
		W int `json:"w"`
		H int `json:"h"`
	} `json:"gridPos"`
	Targets []struct {
		Datasource datasource `json:"datasource"`
		Expr       string     `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func targetSources(targets []struct {
	Datasource datasource `json:"datasource"`
	Expr       string     `json:"expr"`
}) []datasource {
	var out []datasource
	for _, t := range targets {
		out = append(out, t.Datasource)
	}
	return out
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promSelector = regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}`)
	promMatcher  = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	promFunction = regexp.MustCompile(`\b[A-Za-z_][A-Za-z0-9_]*\s*\(`)
	promIdent    = regexp.MustCompile(`\b[A-Za-z_:][A-Za-z0-9_:]*`)
	promNumber   = regexp.MustCompile(`\b[0-9][0-9.eE+\-]*[a-z]*`)
	promKeywords = []string{"and", "or", "unless", "bool", "offset", "atan2"}
)

// checkPromQL returns the metric names expr reads, and an error when one of them, or a label it
// names, is not one mailustats exports.
func checkPromQL(expr string) ([]string, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("expected an expression, got none")
	}
	s := promRange.ReplaceAllString(promString.ReplaceAllString(expr, `""`), " ")
	var metrics, problems []string
	known := func(metric string) bool {
		_, ok := metricLabels[metric]
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown metric %s", metric))
		}
		return ok
	}
	s = promSelector.ReplaceAllStringFunc(s, func(sel string) string {
		m := promSelector.FindStringSubmatch(sel)
		if m[1] == "" || !known(m[1]) {
			if m[1] == "" {
				problems = append(problems, "a selector without a metric name")
			}
			return " "
		}
		metrics = append(metrics, m[1])
		for _, l := range promMatcher.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(metricLabels[m[1]], l[1]) && !slices.Contains(targetLabels, l[1]) {
				problems = append(problems, fmt.Sprintf("%s has no label %s", m[1], l[1]))
			}
		}
		return " "
	})
	var grouped []string
	s = promGrouping.ReplaceAllStringFunc(s, func(g string) string {
		for _, l := range strings.Split(promGrouping.FindStringSubmatch(g)[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				grouped = append(grouped, l)
			}
		}
		return " "
	})
	s = promNumber.ReplaceAllString(promFunction.ReplaceAllString(s, "("), " ")
	for _, id := range promIdent.FindAllString(s, -1) {
		if !slices.Contains(promKeywords, id) && known(id) {
			metrics = append(metrics, id)
		}
	}
	for _, l := range grouped {
		ok := slices.Contains(targetLabels, l)
		for _, m := range metrics {
			ok = ok || slices.Contains(metricLabels[m], l)
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("no metric of the expression has the label %s", l))
		}
	}
	if len(metrics) == 0 {
		problems = append(problems, "no metric")
	}
	if len(problems) > 0 {
		return metrics, fmt.Errorf("expression %q: %s", expr, strings.Join(problems, "; "))
	}
	return metrics, nil
}

var (
	// promToken is what checkDashboardExpr reads an expression as, in order of preference: a
	// string, a range (or subquery), or a name with the matchers after it.
	promToken = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\[[^\]]*\]|\b([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{(?:[^}"']|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')*\})?`)
	// promMatcherValue is a label matcher: the label, the operator and the quoted value.
	promMatcherValue = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')`)
)

// rateInterval is the one range the dashboard's expressions use: Grafana's, at least four
// scrape intervals whatever the time range shown.
const rateInterval = "[$__rate_interval]"

// checkDashboardExpr checks the dashboard's own rules on expr: every range is rateInterval, and
// every selector of a metric has the matcher of dashboardFilters for each of its labels there.
func checkDashboardExpr(expr string) error {
	var problems []string
	for _, tok := range promToken.FindAllStringSubmatch(expr, -1) {
		if strings.HasPrefix(tok[0], "[") && tok[0] != rateInterval {
			problems = append(problems, fmt.Sprintf("the range %s instead of %s", tok[0], rateInterval))
		}
		labels, ok := metricLabels[tok[1]]
		if !ok {
			continue
		}
		matchers := map[string]string{}
		for _, m := range promMatcherValue.FindAllStringSubmatch(tok[2], -1) {
			matchers[m[1]] = m[2] + m[3]
		}
		for label, want := range dashboardFilters {
			if (slices.Contains(labels, label) || slices.Contains(targetLabels, label)) && matchers[label] != want {
				problems = append(problems, fmt.Sprintf("%s without %s%s", tok[1], label, want))
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("expression %q: %s", expr, strings.Join(problems, "; "))
	}
	return nil
}

func TestCheckDashboardExpr(t *testing.T) {
	const filters = `job=~"$job", instance=~"$instance"`
	tests := []struct {
		expr string
		ok   bool
	}{
		{`sum by (result) (rate(coredns_mailustats_queries_total{` + filters + `}[$__rate_interval]))`, true},
		{`max by (version) (coredns_mailustats_active_instances{` + filters + `, zone="$zone", window="$window"})`, true},
		{`sum by (zone) (rate(coredns_mailustats_new_instances_total{instance=~"$instance",zone="$zone",job=~"$job"}[$__rate_interval])) * 3600`, true},
		{`rate(coredns_mailustats_sink_errors_total{sink=~"a}[5m]", ` + filters + `}[$__rate_interval])`, true},
		{`rate(coredns_mailustats_queries_total{` + filters + `}[5m])`, false},
		{`increase(coredns_mailustats_new_instances_total{` + filters + `, zone="$zone"}[1h])`, false},
		{`max_over_time(coredns_mailustats_queue_length{` + filters + `}[1h:$__rate_interval])`, false},
		{`coredns_mailustats_queue_length`, false},
		{`coredns_mailustats_queue_length{job=~"$job"}`, false},
		{`coredns_mailustats_queue_length{job="$job", instance=~"$instance"}`, false},
		{`coredns_mailustats_queue_length{` + filters + `} / coredns_mailustats_queue_length`, false},
		{`coredns_mailustats_active_instances{` + filters + `, window="$window"}`, false},
		{`coredns_mailustats_active_instances{` + filters + `, zone=~"$zone"}`, false},
	}
	for _, tc := range tests {
		if err := checkDashboardExpr(tc.expr); (err == nil) != tc.ok {
			t.Errorf("%q: expected ok %v, got %v", tc.expr, tc.ok, err)
		}
	}
}

func TestCheckPromQL(t *testing.T) {
	tests := []struct {
		expr string
		ok   bool
	}{
		{`sum by (result) (rate(coredns_mailustats_queries_total[5m]))`, true},
		{`max by (version) (coredns_mailustats_active_instances{window="$window"})`, true},
		{`coredns_mailustats_queue_length`, true},
		{`sum(rate(coredns_mailustats_sink_errors_total{sink=~"sqlite:.*"}[$__rate_interval])) by (sink)`, true},
		{`rate(coredns_mailustats_queries_total{result="recorded"}[5m]) / 2`, true},
		{`rate(coredns_dns_requests_total[5m])`, false},
		{`coredns_mailustats_queue_length{sink="x"}`, false},
		{`sum by (version) (coredns_mailustats_queries_total)`, false},
		{`coredns_mailustats_active_instance`, false},
		{``, false},
	}
	for _, tc := range tests {
		_, err := checkPromQL(tc.expr)
		if (err == nil) != tc.ok {
			t.Errorf("%q: expected ok %v, got %v", tc.expr, tc.ok, err)
		}
	}
}

// Starting the binary on each Corefile.

// localize rewrites a deployment Corefile to run unprivileged beside other tests: the server
// block binds to loopback only (instead of its own bind), on corednstest.PortVar; every other listening address becomes a
// loopback placeholder named as corefileAddrs names it ("{health}"); and /var/lib/mailustats
// becomes dir. It returns the new Corefile and the names of its placeholders besides PortVar.
func localize(t *testing.T, corefile, dir string) (string, []string) {
	t.Helper()
	var names, out []string
	depth := 0
	for _, line := range strings.Split(strings.ReplaceAll(corefile, "/var/lib/mailustats", dir), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || f[0] == "bind" {
			continue
		}
		switch {
		case depth == 0 && strings.Contains(f[0], ":"):
			zone, _, err := net.SplitHostPort(f[0])
			if err != nil {
				t.Fatalf("server block %q: %v", f[0], err)
			}
			names = append(names, "dns")
			line = strings.Replace(line, f[0], zone+":"+corednstest.PortVar, 1) + "\n    bind 127.0.0.1"
		case len(f) >= 2 && slices.Contains([]string{"health", "ready", "prometheus", "api"}, f[0]):
			if _, _, err := net.SplitHostPort(f[1]); err == nil {
				names = append(names, f[0])
				line = strings.Replace(line, f[1], "127.0.0.1:{"+f[0]+"}", 1)
			}
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		out = append(out, line)
	}
	for _, name := range []string{"dns", "health", "ready", "prometheus"} {
		if !slices.Contains(names, name) {
			t.Fatalf("expected the Corefile to have %s on a port, got\n%s", name, corefile)
		}
	}
	return strings.Join(out, "\n") + "\n", slices.DeleteFunc(names, func(n string) bool { return n == "dns" })
}

func TestCorefilesStart(t *testing.T) {
	k8s := manifests(t, kubernetesApp)["ConfigMap"].Data["Corefile"]
	k8sSQLite := manifests(t, kubernetesSQLite)["ConfigMap"].Data["Corefile"]
	sidecar := manifests(t, kubernetesSidecar)["ConfigMap"].Data["mailustats.Corefile"]
	for _, tc := range []struct {
		name, corefile, db string // db: the SQLite file the sink creates, relative to the data dir
	}{
		{"image", readFile(t, "Corefile"), "mailustats.db"},
		{"systemd", readFile(t, "systemd/Corefile"), "mailustats.db"},
		{"kubernetes", k8s, ""},
		{"kubernetes-sqlite", k8sSQLite, "mailustats.db"},
		{"sidecar", sidecar, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runCorefile(t, tc.corefile, tc.db)
		})
	}
}

// runCorefile starts the binary on the localized corefile, checks that it answers a valid name, its
// health, readiness and metrics, stops it with SIGTERM and requires exit status 0.
func runCorefile(t *testing.T, corefile, db string) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	corefile, names := localize(t, corefile, data)
	dbPort, err := proctest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	srv := corednstest.Start(t, corednstest.Config{Bin: coreDNSBin, Dir: dir, Conf: corednstest.Template(corefile), Ports: names,
		Env: []string{
			// Nothing listens there: the PostgreSQL sink starts with its database down.
			fmt.Sprintf("MAILUSTATS_DSN=postgres://mailustats@127.0.0.1:%d/mailustats?sslmode=disable&connect_timeout=1", dbPort),
			"MAILUSTATS_HASH_SECRET=deploy-test-secret",
			nsAddressEnv,
		}})
	ports := srv.Ports
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nCorefile:\n%s\noutput:\n%s", append(args, readFile(t, filepath.Join(dir, "Corefile")), srv.Out)...)
	}

	m := new(dns.Msg).SetQuestion(validName, dns.TypeA)
	r, _, err := (&dns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(m, srv.Addr)
	if err != nil || r.Rcode != dns.RcodeNameError || !r.Authoritative {
		fail("expected an authoritative NXDOMAIN for %s, got %v\n%v", validName, err, r)
	}

	deadline := time.Now().Add(startTimeout)
	if code := waitHTTP(ports["health"], "/health", deadline, 200); code != 200 {
		fail("expected /health to answer 200, got %d", code)
	}
	if db != "" {
		// A SQLite sink opens at start-up, so the server is ready at once.
		if code := waitHTTP(ports["ready"], "/ready", deadline, 200); code != 200 {
			fail("expected /ready to answer 200, got %d", code)
		}
	} else {
		t.Logf("/ready with the database down: %d", waitHTTP(ports["ready"], "/ready", time.Now(), 200))
	}
	metrics := httpBody(ports["prometheus"], "/metrics")
	for _, name := range []string{"coredns_mailustats_queries_total", "coredns_mailustats_dropped_total", "coredns_mailustats_queue_length"} {
		if !strings.Contains(metrics, "\n"+name) {
			fail("expected %s in /metrics", name)
		}
	}
	if !strings.Contains(metrics, "coredns_mailustats_active_instances") {
		t.Log("coredns_mailustats_active_instances is not exported (yet, or no instance seen)")
	}
	if p := ports["api"]; p != 0 {
		t.Logf("api on 127.0.0.1:%d: GET / answered %d", p, waitHTTP(p, "/", time.Now(), 200))
	}

	if _, code := srv.Terminate(t, stopTimeout); code != 0 {
		fail("expected exit status 0 after SIGTERM, got %d", code)
	}
	if db != "" {
		if _, err := os.Stat(filepath.Join(data, db)); err != nil {
			fail("expected the SQLite database in the data directory: %v", err)
		}
	}
}

// waitHTTP polls GET path on a loopback port until it answers want or the deadline passes, and
// returns the last status (0 when nothing answered).
func waitHTTP(port int, path string, deadline time.Time, want int) int {
	client := &http.Client{Timeout: time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
	for {
		code := 0
		if resp, err := client.Get(url); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		}
		if code == want || time.Now().After(deadline) {
			return code
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func httpBody(port int, path string) string {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
