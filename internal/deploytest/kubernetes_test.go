package deploytest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// kubeDir holds the Kubernetes manifests, relative to this package.
var kubeDir = filepath.Join(deployments, "kubernetes")

// kubeObject is the part of a Kubernetes object the tests read.
type kubeObject struct {
	file string

	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`       // ConfigMap
	StringData map[string]string `yaml:"stringData"` // Secret
	Resources  []string          `yaml:"resources"`  // Kustomization
	Spec       struct {
		Replicas    *int   `yaml:"replicas"`
		ServiceName string `yaml:"serviceName"`
		ClusterIP   string `yaml:"clusterIP"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
	raw map[string]any
}

type podSpec struct {
	Containers []struct {
		Name    string   `yaml:"name"`
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Env     []struct {
			Name      string `yaml:"name"`
			ValueFrom struct {
				ConfigMapKeyRef *struct{ Name, Key string } `yaml:"configMapKeyRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		VolumeMounts   []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	} `yaml:"containers"`
	Volumes []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name  string `yaml:"name"`
			Items []struct{ Key, Path string }
		} `yaml:"configMap"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
			Items      []struct{ Key, Path string }
		} `yaml:"secret"`
	} `yaml:"volumes"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
	TCPSocket *struct {
		Port any `yaml:"port"`
	} `yaml:"tcpSocket"`
}

// loadKube decodes every document of every .yaml or .yml file under
// deployments/kubernetes.
func loadKube(t *testing.T) []*kubeObject {
	t.Helper()
	var objs []*kubeObject
	err := filepath.WalkDir(kubeDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := filepath.Ext(path)
		if ext != ".yaml" && ext != ".yml" {
			t.Errorf("%s: not a .yaml file: the manifests directory holds manifests only", path)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(kubeDir, path)
		for i, doc := range splitYAML(t, path, b) {
			var o kubeObject
			if err := doc.Decode(&o); err != nil {
				t.Errorf("%s document %d: %v", rel, i+1, err)
				continue
			}
			if err := doc.Decode(&o.raw); err != nil {
				t.Errorf("%s document %d: %v", rel, i+1, err)
				continue
			}
			if o.raw == nil {
				continue // an empty document
			}
			o.file = rel
			objs = append(objs, &o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// splitYAML returns the documents of a YAML stream.
func splitYAML(t *testing.T, path string, b []byte) []*yaml.Node {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, &n)
	}
}

func TestKubernetesManifests(t *testing.T) {
	objs := loadKube(t)
	byKind := map[string][]*kubeObject{}
	files := map[string]bool{}
	for _, o := range objs {
		files[o.file] = true
		if o.APIVersion == "" || o.Kind == "" {
			t.Errorf("%s: apiVersion %q kind %q: both are required", o.file, o.APIVersion, o.Kind)
			continue
		}
		if o.Kind != "Kustomization" && o.Metadata.Name == "" {
			t.Errorf("%s: %s without metadata.name", o.file, o.Kind)
		}
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	for _, kind := range []string{"Kustomization", "ConfigMap", "Secret", "StatefulSet", "Deployment", "Service", "Ingress"} {
		if len(byKind[kind]) == 0 {
			t.Errorf("no %s in %s", kind, kubeDir)
		}
	}
	for _, k := range byKind["Kustomization"] {
		for _, r := range k.Resources {
			if !files[r] {
				t.Errorf("%s: resource %s is no manifest of %s", k.file, r, kubeDir)
			}
		}
	}
	find := func(kind, name string) *kubeObject {
		for _, o := range byKind[kind] {
			if o.Metadata.Name == name {
				return o
			}
		}
		return nil
	}

	// Workloads: selectors match their pods; every ConfigMap and Secret key
	// they use exists.
	for _, kind := range []string{"StatefulSet", "Deployment"} {
		for _, w := range byKind[kind] {
			if !subset(w.Spec.Selector.MatchLabels, w.Spec.Template.Metadata.Labels) || len(w.Spec.Selector.MatchLabels) == 0 {
				t.Errorf("%s: selector %v does not select the pod labels %v", w.file, w.Spec.Selector.MatchLabels, w.Spec.Template.Metadata.Labels)
			}
			ps := w.Spec.Template.Spec
			for _, v := range ps.Volumes {
				if v.ConfigMap != nil {
					keysExist(t, w.file, find("ConfigMap", v.ConfigMap.Name), "ConfigMap "+v.ConfigMap.Name, v.ConfigMap.Items)
				}
				if v.Secret != nil {
					keysExist(t, w.file, find("Secret", v.Secret.SecretName), "Secret "+v.Secret.SecretName, v.Secret.Items)
				}
			}
			for _, c := range ps.Containers {
				for _, e := range c.Env {
					if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
						cm := find("ConfigMap", ref.Name)
						if cm == nil || cm.Data[ref.Key] == "" {
							t.Errorf("%s: env %s: ConfigMap %s has no key %s", w.file, e.Name, ref.Name, ref.Key)
						}
					}
				}
			}
		}
	}

	// The sync worker: one replica, state on a claim, probes on /readyz and
	// /healthz of the metrics port, listening beyond loopback, scraped.
	sts := find("StatefulSet", "vccsync-syncworker")
	if sts == nil {
		t.Fatal("no StatefulSet vccsync-syncworker")
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		t.Errorf("%s: replicas must be 1 (one consumer and bbolt file per worker)", sts.file)
	}
	if len(sts.Spec.VolumeClaimTemplates) == 0 {
		t.Errorf("%s: no volumeClaimTemplates for the data dir", sts.file)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"--http-listen=0.0.0.0:9470", "--data-dir=/var/lib/vccsync", "--vcc-client-secret-file=/etc/vccsync/secrets/", "--config=/etc/vccsync/config/"} {
		if !strings.Contains(args, want) {
			t.Errorf("%s: args %q lack %s", sts.file, args, want)
		}
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["data"] != "/var/lib/vccsync" || mounts[sts.Spec.VolumeClaimTemplates[0].Metadata.Name] != "/var/lib/vccsync" {
		t.Errorf("%s: the claim %q must be mounted at the data dir, mounts %v", sts.file, sts.Spec.VolumeClaimTemplates[0].Metadata.Name, mounts)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("%s: readinessProbe must GET /readyz", sts.file)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("%s: livenessProbe must GET /healthz", sts.file)
	}
	ann := sts.Spec.Template.Metadata.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "9470" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("%s: pod annotations %v: want prometheus.io/scrape, port 9470 and path /metrics", sts.file, ann)
	}
	svc := find("Service", sts.Spec.ServiceName)
	if svc == nil {
		t.Fatalf("%s: serviceName %s: no such Service", sts.file, sts.Spec.ServiceName)
	}
	if svc.Spec.ClusterIP != "None" {
		t.Errorf("%s: the StatefulSet's Service must be headless (clusterIP: None)", svc.file)
	}

	// Every Service selects the pods of a workload.
	for _, s := range byKind["Service"] {
		sel, _ := s.raw["spec"].(map[string]any)["selector"].(map[string]any)
		labels := map[string]string{}
		for k, v := range sel {
			labels[k], _ = v.(string)
		}
		found := false
		for _, kind := range []string{"StatefulSet", "Deployment"} {
			for _, w := range byKind[kind] {
				found = found || (len(labels) > 0 && subset(labels, w.Spec.Template.Metadata.Labels))
			}
		}
		if !found {
			t.Errorf("%s: Service %s selects no workload's pods (selector %v)", s.file, s.Metadata.Name, labels)
		}
	}

	// Every Ingress backend is a Service port.
	for _, ing := range byKind["Ingress"] {
		var spec struct {
			Spec struct {
				Rules []struct {
					HTTP struct {
						Paths []struct {
							Backend struct {
								Service struct {
									Name string
									Port struct{ Name string }
								}
							}
						}
					}
				}
			}
		}
		b, _ := yaml.Marshal(ing.raw)
		if err := yaml.Unmarshal(b, &spec); err != nil {
			t.Errorf("%s: %v", ing.file, err)
			continue
		}
		for _, r := range spec.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				be := p.Backend.Service
				s := find("Service", be.Name)
				ok := false
				for _, port := range portsOf(s) {
					ok = ok || port == be.Port.Name
				}
				if !ok {
					t.Errorf("%s: backend %s port %q is no Service port", ing.file, be.Name, be.Port.Name)
				}
			}
		}
	}
}

// portsOf returns the port names of a Service (none for nil).
func portsOf(s *kubeObject) []string {
	if s == nil {
		return nil
	}
	var names []string
	for _, p := range s.Spec.Ports {
		names = append(names, p.Name)
	}
	return names
}

// keysExist checks that every item key of a volume is in the ConfigMap's
// data or the Secret's stringData.
func keysExist(t *testing.T, file string, o *kubeObject, what string, items []struct{ Key, Path string }) {
	t.Helper()
	if o == nil {
		t.Errorf("%s: %s: not in %s", file, what, kubeDir)
		return
	}
	for _, it := range items {
		_, inData := o.Data[it.Key]
		_, inString := o.StringData[it.Key]
		if !inData && !inString {
			t.Errorf("%s: %s has no key %s", file, what, it.Key)
		}
	}
}

// subset reports whether every label of a is in b with the same value.
func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// flagLine is a flag in the usage the flag package ("  -name") or cobra
// ("      --name", "  -h, --help") prints.
var flagLine = regexp.MustCompile(`^\s+(?:-[a-zA-Z], )?--?([a-z][a-z0-9-]*)`)

// commandFlags runs bin with args (a -h) and returns the flags it lists.
func commandFlags(t *testing.T, bin string, args ...string) map[string]bool {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
	flags := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := flagLine.FindStringSubmatch(sc.Text()); m != nil {
			flags[m[1]] = true
		}
	}
	if len(flags) == 0 {
		t.Fatalf("%s %v lists no flags:\n%s", bin, args, out)
	}
	return flags
}

// argFlag matches a flag in a command line.
var argFlag = regexp.MustCompile(`(?:^|\s)--?([a-z][a-z0-9-]*)`)

// TestManifestFlags checks that the flags the systemd unit and the
// Kubernetes manifests pass, and the settings of the configuration files,
// are flags syncworker (or publisher serve) has: an unknown one stops it
// at start.
func TestManifestFlags(t *testing.T) {
	worker := commandFlags(t, buildCommand(t, "syncworker"), "-h")
	publisher := buildCommand(t, "publisher")
	serve := commandFlags(t, publisher, "serve", "-h")
	cdc := commandFlags(t, publisher, "cdc", "-h")

	checkArgs := func(where string, args []string, known map[string]bool) {
		for _, a := range args {
			for _, m := range argFlag.FindAllStringSubmatch(a, -1) {
				if !known[m[1]] {
					t.Errorf("%s: --%s is not a flag (have %s)", where, m[1], sortedKeys(known))
				}
			}
		}
	}
	for _, o := range loadKube(t) {
		for _, c := range o.Spec.Template.Spec.Containers {
			where := o.file + " container " + c.Name
			switch {
			case len(c.Command) > 0 && filepath.Base(c.Command[0]) == "syncworker":
				checkArgs(where, c.Args, worker)
			case len(c.Command) > 0 && filepath.Base(c.Command[0]) == "publisher" && len(c.Args) > 0 && c.Args[0] == "serve":
				checkArgs(where, c.Args[1:], serve)
			default:
				t.Errorf("%s: command %v args %v: neither syncworker nor publisher serve", where, c.Command, c.Args)
			}
		}
		if o.Kind == "ConfigMap" {
			if cfg, ok := o.Data["vccsync.yaml"]; ok {
				checkSettings(t, o.file+" vccsync.yaml", []byte(cfg), worker)
			}
		}
	}

	example := filepath.Join(deployments, "config", "vccsync.example.yaml")
	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	checkSettings(t, example, b, worker)

	unit := filepath.Join(deployments, "systemd", "vccsync-syncworker.service")
	b, err = os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	var execStart []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "ExecStart=") {
			in = true
		}
		if in {
			execStart = append(execStart, strings.TrimSuffix(strings.TrimPrefix(line, "ExecStart="), "\\"))
			in = strings.HasSuffix(line, "\\")
		}
	}
	if len(execStart) == 0 {
		t.Fatalf("%s: no ExecStart", unit)
	}
	checkArgs(unit+" ExecStart", execStart[1:], worker)
	checkArgs(unit+" ExecStart", strings.Fields(execStart[0])[1:], worker)

	serveUnit := filepath.Join(deployments, "systemd", "vccsync-publisher-serve.service")
	serveArgs := unitExecStart(t, serveUnit)
	if len(serveArgs) < 2 || serveArgs[1] != "serve" {
		t.Fatalf("%s: ExecStart %q does not run publisher serve", serveUnit, serveArgs)
	}
	checkArgs(serveUnit+" ExecStart", serveArgs[2:], serve)

	cdcUnit := filepath.Join(deployments, "systemd", "vccsync-publisher-cdc.service")
	cdcArgs := unitExecStart(t, cdcUnit)
	if len(cdcArgs) < 3 || cdcArgs[1] != "cdc" || cdcArgs[2] != "--subscribe" {
		t.Fatalf("%s: ExecStart %q does not run publisher cdc --subscribe", cdcUnit, cdcArgs)
	}
	checkArgs(cdcUnit+" ExecStart", cdcArgs[2:], cdc)
}

// unitExecStart returns the words of a systemd unit's ExecStart, its
// continuation lines joined.
func unitExecStart(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "ExecStart=") {
			in = true
		}
		if in {
			words = append(words, strings.Fields(strings.TrimSuffix(strings.TrimPrefix(line, "ExecStart="), "\\"))...)
			in = strings.HasSuffix(line, "\\")
		}
	}
	if len(words) == 0 {
		t.Fatalf("%s: no ExecStart", path)
	}
	return words
}

// checkSettings checks that every top-level key of a syncworker
// configuration file is a flag name, or mapping.
func checkSettings(t *testing.T, where string, b []byte, flags map[string]bool) {
	t.Helper()
	var settings map[string]any
	if err := yaml.Unmarshal(b, &settings); err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	for k := range settings {
		if k != "mapping" && (k == "config" || !flags[k]) {
			t.Errorf("%s: setting %q is no flag of syncworker: it would refuse to start", where, k)
		}
	}
}

func sortedKeys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}
