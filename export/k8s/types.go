package k8s

// The Kubernetes objects the export writes, as small structs with the API's
// field names: the product binary links no k8s.io module (issue 15's size
// and start-up budget). Only the fields the mapping sets are here; the
// tests decode every output strictly with k8s.io/api, so a misspelt field
// fails there.

// Meta is an object's metadata.
type Meta struct {
	Name        string            `yaml:"name,omitempty"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Head is what every object starts with.
type Head struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   Meta   `yaml:"metadata"`
}

type Namespace struct {
	Head `yaml:",inline"`
}

type ConfigMap struct {
	Head       `yaml:",inline"`
	Data       map[string]string `yaml:"data,omitempty"`
	BinaryData map[string]string `yaml:"binaryData,omitempty"` // base64
}

type Secret struct {
	Head `yaml:",inline"`
	Type string `yaml:"type"`
	// StringData keeps the export readable; the apiserver stores it as data.
	StringData map[string]string `yaml:"stringData,omitempty"`
	Data       map[string]string `yaml:"data,omitempty"` // base64
}

type PVC struct {
	Head `yaml:",inline"`
	Spec PVCSpec `yaml:"spec"`
}

type PVCSpec struct {
	AccessModes      []string     `yaml:"accessModes"`
	StorageClassName *string      `yaml:"storageClassName,omitempty"`
	Resources        VolResources `yaml:"resources"`
}

type VolResources struct {
	Requests map[string]string `yaml:"requests"`
}

type Service struct {
	Head `yaml:",inline"`
	Spec ServiceSpec `yaml:"spec"`
}

type ServiceSpec struct {
	Type      string            `yaml:"type,omitempty"`
	ClusterIP string            `yaml:"clusterIP,omitempty"`
	Selector  map[string]string `yaml:"selector"`
	Ports     []ServicePort     `yaml:"ports,omitempty"`
	// PublishNotReadyAddresses is left false: readiness gates the Service
	// as health gates depends_on on one host.
}

type ServicePort struct {
	Name       string `yaml:"name"`
	Protocol   string `yaml:"protocol"`
	Port       int    `yaml:"port"`
	TargetPort int    `yaml:"targetPort"`
}

type Deployment struct {
	Head `yaml:",inline"`
	Spec DeploymentSpec `yaml:"spec"`
}

type DeploymentSpec struct {
	Replicas *int        `yaml:"replicas"`
	Selector Selector    `yaml:"selector"`
	Strategy *Strategy   `yaml:"strategy,omitempty"`
	Template PodTemplate `yaml:"template"`
}

type Strategy struct {
	Type string `yaml:"type"`
}

type StatefulSet struct {
	Head `yaml:",inline"`
	Spec StatefulSetSpec `yaml:"spec"`
}

type StatefulSetSpec struct {
	Replicas             *int            `yaml:"replicas"`
	ServiceName          string          `yaml:"serviceName"`
	Selector             Selector        `yaml:"selector"`
	Template             PodTemplate     `yaml:"template"`
	VolumeClaimTemplates []ClaimTemplate `yaml:"volumeClaimTemplates,omitempty"`
}

type ClaimTemplate struct {
	Metadata Meta    `yaml:"metadata"`
	Spec     PVCSpec `yaml:"spec"`
}

type Job struct {
	Head `yaml:",inline"`
	Spec JobSpec `yaml:"spec"`
}

type JobSpec struct {
	Parallelism  *int        `yaml:"parallelism,omitempty"`
	Completions  *int        `yaml:"completions,omitempty"`
	BackoffLimit *int        `yaml:"backoffLimit"`
	Template     PodTemplate `yaml:"template"`
}

type Selector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type PodTemplate struct {
	Metadata Meta    `yaml:"metadata"`
	Spec     PodSpec `yaml:"spec"`
}

type PodSpec struct {
	RestartPolicy                 string             `yaml:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64             `yaml:"terminationGracePeriodSeconds,omitempty"`
	AutomountServiceAccountToken  *bool              `yaml:"automountServiceAccountToken"`
	EnableServiceLinks            *bool              `yaml:"enableServiceLinks"`
	HostUsers                     *bool              `yaml:"hostUsers,omitempty"`
	SecurityContext               *PodSecurity       `yaml:"securityContext,omitempty"`
	HostAliases                   []HostAlias        `yaml:"hostAliases,omitempty"`
	TopologySpreadConstraints     []SpreadConstraint `yaml:"topologySpreadConstraints,omitempty"`
	Containers                    []Container        `yaml:"containers"`
	Volumes                       []Volume           `yaml:"volumes,omitempty"`
}

// SpreadConstraint is a topologySpreadConstraint.
type SpreadConstraint struct {
	MaxSkew           int      `yaml:"maxSkew"`
	TopologyKey       string   `yaml:"topologyKey"`
	WhenUnsatisfiable string   `yaml:"whenUnsatisfiable"`
	LabelSelector     Selector `yaml:"labelSelector"`
}

type HostAlias struct {
	IP        string   `yaml:"ip"`
	Hostnames []string `yaml:"hostnames"`
}

type PodSecurity struct {
	RunAsUser      *int64          `yaml:"runAsUser,omitempty"`
	RunAsGroup     *int64          `yaml:"runAsGroup,omitempty"`
	RunAsNonRoot   *bool           `yaml:"runAsNonRoot,omitempty"`
	FSGroup        *int64          `yaml:"fsGroup,omitempty"`
	SeccompProfile *SeccompProfile `yaml:"seccompProfile,omitempty"`
}

type SeccompProfile struct {
	Type string `yaml:"type"`
}

type Container struct {
	Name            string             `yaml:"name"`
	Image           string             `yaml:"image"`
	ImagePullPolicy string             `yaml:"imagePullPolicy,omitempty"`
	Command         []string           `yaml:"command,omitempty"`
	Args            []string           `yaml:"args,omitempty"`
	WorkingDir      string             `yaml:"workingDir,omitempty"`
	Env             []EnvVar           `yaml:"env,omitempty"`
	EnvFrom         []EnvFrom          `yaml:"envFrom,omitempty"`
	Ports           []ContainerPort    `yaml:"ports,omitempty"`
	Resources       *Resources         `yaml:"resources,omitempty"`
	StartupProbe    *Probe             `yaml:"startupProbe,omitempty"`
	ReadinessProbe  *Probe             `yaml:"readinessProbe,omitempty"`
	LivenessProbe   *Probe             `yaml:"livenessProbe,omitempty"`
	SecurityContext *ContainerSecurity `yaml:"securityContext,omitempty"`
	VolumeMounts    []VolumeMount      `yaml:"volumeMounts,omitempty"`
}

type EnvVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type EnvFrom struct {
	ConfigMapRef *NameRef `yaml:"configMapRef,omitempty"`
	SecretRef    *NameRef `yaml:"secretRef,omitempty"`
}

type NameRef struct {
	Name string `yaml:"name"`
}

type ContainerPort struct {
	Name          string `yaml:"name,omitempty"`
	ContainerPort int    `yaml:"containerPort"`
	Protocol      string `yaml:"protocol"`
	HostPort      int    `yaml:"hostPort,omitempty"`
	HostIP        string `yaml:"hostIP,omitempty"`
}

type Resources struct {
	Requests map[string]string `yaml:"requests,omitempty"`
	Limits   map[string]string `yaml:"limits,omitempty"`
}

type Probe struct {
	Exec             *ExecAction `yaml:"exec,omitempty"`
	TCPSocket        *TCPAction  `yaml:"tcpSocket,omitempty"`
	HTTPGet          *HTTPAction `yaml:"httpGet,omitempty"`
	PeriodSeconds    int         `yaml:"periodSeconds"`
	TimeoutSeconds   int         `yaml:"timeoutSeconds"`
	FailureThreshold int         `yaml:"failureThreshold"`
	SuccessThreshold int         `yaml:"successThreshold"`
}

type ExecAction struct {
	Command []string `yaml:"command"`
}

type TCPAction struct {
	Port int `yaml:"port"`
}

type HTTPAction struct {
	Path        string       `yaml:"path"`
	Port        int          `yaml:"port"`
	Host        string       `yaml:"host,omitempty"`
	Scheme      string       `yaml:"scheme"`
	HTTPHeaders []HTTPHeader `yaml:"httpHeaders,omitempty"`
}

type HTTPHeader struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type ContainerSecurity struct {
	AllowPrivilegeEscalation *bool         `yaml:"allowPrivilegeEscalation"`
	Privileged               *bool         `yaml:"privileged"`
	ReadOnlyRootFilesystem   *bool         `yaml:"readOnlyRootFilesystem"`
	Capabilities             *Capabilities `yaml:"capabilities"`
}

type Capabilities struct {
	Drop []string `yaml:"drop"`
	Add  []string `yaml:"add,omitempty"`
}

type VolumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath,omitempty"`
	ReadOnly  bool   `yaml:"readOnly,omitempty"`
}

type Volume struct {
	Name                  string        `yaml:"name"`
	EmptyDir              *EmptyDir     `yaml:"emptyDir,omitempty"`
	PersistentVolumeClaim *ClaimRef     `yaml:"persistentVolumeClaim,omitempty"`
	ConfigMap             *ConfigMapVol `yaml:"configMap,omitempty"`
	Secret                *SecretVol    `yaml:"secret,omitempty"`
}

type EmptyDir struct {
	Medium    string `yaml:"medium,omitempty"`
	SizeLimit string `yaml:"sizeLimit,omitempty"`
}

type ClaimRef struct {
	ClaimName string `yaml:"claimName"`
}

type KeyPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
	Mode *int   `yaml:"mode,omitempty"`
}

type ConfigMapVol struct {
	Name  string    `yaml:"name"`
	Items []KeyPath `yaml:"items,omitempty"`
}

type SecretVol struct {
	SecretName string    `yaml:"secretName"`
	Items      []KeyPath `yaml:"items,omitempty"`
}

type NetworkPolicy struct {
	Head `yaml:",inline"`
	Spec PolicySpec `yaml:"spec"`
}

type PolicySpec struct {
	PodSelector Selector     `yaml:"podSelector"`
	PolicyTypes []string     `yaml:"policyTypes"`
	Ingress     []PolicyRule `yaml:"ingress,omitempty"`
	Egress      []PolicyRule `yaml:"egress,omitempty"`
}

// PolicyRule is an ingress rule (From) or an egress rule (To).
type PolicyRule struct {
	From  []Peer       `yaml:"from,omitempty"`
	To    []Peer       `yaml:"to,omitempty"`
	Ports []PolicyPort `yaml:"ports,omitempty"`
}

type Peer struct {
	PodSelector       *Selector `yaml:"podSelector,omitempty"`
	NamespaceSelector *Selector `yaml:"namespaceSelector,omitempty"`
	IPBlock           *IPBlock  `yaml:"ipBlock,omitempty"`
}

type IPBlock struct {
	CIDR   string   `yaml:"cidr"`
	Except []string `yaml:"except,omitempty"`
}

type PolicyPort struct {
	Protocol string `yaml:"protocol"`
	Port     int    `yaml:"port,omitempty"`
	EndPort  int    `yaml:"endPort,omitempty"`
}

// Kustomization is kustomize's file (kustomize.config.k8s.io/v1beta1).
type Kustomization struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Namespace  string   `yaml:"namespace,omitempty"`
	Resources  []string `yaml:"resources"`
}
