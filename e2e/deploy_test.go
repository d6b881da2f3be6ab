package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/strata-gateway/strata/internal/config"
)

// manifest is the part of a Kubernetes object the checks below read.
type manifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Spec struct {
				ServiceAccountName string `yaml:"serviceAccountName"`
				SecurityContext    struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
					RunAsUser    int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []struct {
					Args  []string `yaml:"args"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					EnvFrom []struct {
						SecretRef struct {
							Name string `yaml:"name"`
						} `yaml:"secretRef"`
					} `yaml:"envFrom"`
					ReadinessProbe probe `yaml:"readinessProbe"`
					LivenessProbe  probe `yaml:"livenessProbe"`
					VolumeMounts   []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name      string `yaml:"name"`
					ConfigMap struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

func readManifests(t *testing.T) map[string]manifest {
	t.Helper()
	files, err := filepath.Glob("../deploy/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	out := map[string]manifest{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m manifest
		if err := yaml.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if m.APIVersion == "" || m.Kind == "" || m.Metadata.Name == "" {
			t.Fatalf("%s: not a Kubernetes object (apiVersion, kind, metadata.name)", f)
		}
		out[m.Kind] = m
	}
	return out
}

// The Kubernetes manifests fit together and fit the gateway: the probes
// ask for routes it serves (with 200, without a key) on the port it
// listens on; the Service and the ConfigMap, Secret and ServiceAccount
// are the ones the Deployment names; the config in the ConfigMap loads
// with what the Secret provides; the image's command reads the file where
// the Deployment mounts it.
func TestKubernetesManifests(t *testing.T) {
	ms := readManifests(t)
	for _, kind := range []string{"Deployment", "Service", "ServiceAccount", "ConfigMap", "Secret"} {
		if _, ok := ms[kind]; !ok {
			t.Fatalf("deploy/kubernetes has no %s", kind)
		}
	}
	dep, svc, sa, cm, sec := ms["Deployment"], ms["Service"], ms["ServiceAccount"], ms["ConfigMap"], ms["Secret"]
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if pod.ServiceAccountName != sa.Metadata.Name {
		t.Errorf("the pods run as %q, the ServiceAccount is %q", pod.ServiceAccountName, sa.Metadata.Name)
	}
	if !regexp.MustCompile(`^arn:aws:iam::\d{12}:role/.+`).MatchString(sa.Metadata.Annotations["eks.amazonaws.com/role-arn"]) {
		t.Errorf("the ServiceAccount has no IRSA role: %v", sa.Metadata.Annotations)
	}
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == 0 {
		t.Errorf("the pods may run as root: %+v", pod.SecurityContext)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef.Name != sec.Metadata.Name {
		t.Errorf("the container's environment does not come from the Secret %q", sec.Metadata.Name)
	}

	// The port: --port, the named container port, both probes and the Service.
	port := ""
	var configPath string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--port="); ok {
			port = v
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			configPath = v
		}
	}
	if len(c.Ports) != 1 || port == "" || port != strconv.Itoa(c.Ports[0].ContainerPort) {
		t.Fatalf("--port=%s, container ports %+v", port, c.Ports)
	}
	portName := c.Ports[0].Name
	for name, p := range map[string]probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p.HTTPGet.Port != portName && p.HTTPGet.Port != c.Ports[0].ContainerPort {
			t.Errorf("%s probe on port %v, the container listens on %s (%d)", name, p.HTTPGet.Port, portName, c.Ports[0].ContainerPort)
		}
	}
	if len(svc.Spec.Ports) != 1 || (svc.Spec.Ports[0].TargetPort != portName && svc.Spec.Ports[0].TargetPort != c.Ports[0].ContainerPort) {
		t.Errorf("the Service sends to %+v, the container listens on %s", svc.Spec.Ports, portName)
	}

	// The config: mounted from the ConfigMap where --config and the image look.
	mounted := ""
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.ConfigMap.Name == cm.Metadata.Name {
				mounted = vm.MountPath
			}
		}
	}
	if mounted == "" || filepath.Dir(configPath) != mounted {
		t.Fatalf("--config=%s, ConfigMap mounted at %q", configPath, mounted)
	}
	doc, ok := cm.Data[filepath.Base(configPath)]
	if !ok {
		t.Fatalf("the ConfigMap has no %s", filepath.Base(configPath))
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dockerfile), `CMD ["--config", "`+configPath+`"]`) {
		t.Errorf("the Dockerfile's CMD does not read %s", configPath)
	}
	env := func(k string) (string, bool) { v, ok := sec.StringData[k]; return v, ok }
	cfg, err := config.Parse([]byte(doc), "configmap.yaml", env)
	if err != nil {
		t.Fatalf("the ConfigMap's config does not load with the Secret's values: %v", err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("the ConfigMap's config has warnings: %v", cfg.Warnings)
	}
	if !cfg.Settings.Redis.Enabled() || cfg.Settings.DatabaseURL == "" || cfg.Settings.MasterKey == "" {
		t.Errorf("the config does not share Redis and PostgreSQL with a master key: %+v", cfg.Settings)
	}

	// The probes' routes answer 200 without a key, on a gateway with a
	// master key, as the pods run.
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, keysConfig(endpoint, "sqlite://"+filepath.Join(t.TempDir(), "s.db"), ""), keysEnv...)
	for name, p := range map[string]probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		resp, err := http.Get(g.URL + p.HTTPGet.Path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s probe GET %s: %d", name, p.HTTPGet.Path, resp.StatusCode)
		}
	}
	if !slices.Contains([]string{"/health/readiness"}, c.ReadinessProbe.HTTPGet.Path) {
		t.Errorf("readiness probe on %s: only /health/readiness turns 503 while the gateway drains", c.ReadinessProbe.HTTPGet.Path)
	}
}
