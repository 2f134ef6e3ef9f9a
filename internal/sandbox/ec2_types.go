package sandbox

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// instanceType is what DescribeInstanceTypes tells about one type.
type instanceType struct {
	Name      string
	VCPUs     int
	Threads   int // per core
	MemoryMiB int64
	Archs     []string
	GPUs      int
	GPUName   string
	GPUMiB    int64 // per GPU
	Burstable bool
}

func (t instanceType) cores() int { return t.VCPUs / t.Threads }

var (
	x86 = []string{"x86_64"}
	arm = []string{"arm64"}
)

// instanceTypes is the sandbox's catalogue, sorted by name.
var instanceTypes = buildInstanceTypes()

var typesByName = func() map[string]instanceType {
	m := make(map[string]instanceType, len(instanceTypes))
	for _, t := range instanceTypes {
		m[t.Name] = t
	}
	return m
}()

func instanceTypeByName(name string) (instanceType, bool) {
	t, ok := typesByName[name]
	return t, ok
}

func buildInstanceTypes() []instanceType {
	var out []instanceType
	// Burstable: nano..2xlarge, with their fixed vCPU and memory.
	burst := []struct {
		size  string
		vcpus int
		mib   int64
	}{{"nano", 2, 512}, {"micro", 2, 1024}, {"small", 2, 2048}, {"medium", 2, 4096}, {"large", 2, 8192}, {"xlarge", 4, 16384}, {"2xlarge", 8, 32768}}
	for _, fam := range []struct {
		name    string
		threads int
		archs   []string
	}{{"t3", 2, x86}, {"t3a", 2, x86}, {"t4g", 1, arm}} {
		for _, b := range burst {
			out = append(out, instanceType{Name: fam.name + "." + b.size, VCPUs: b.vcpus, Threads: fam.threads, MemoryMiB: b.mib, Archs: fam.archs, Burstable: true})
		}
	}
	// General purpose, compute and memory families: vCPUs by size, memory
	// a fixed multiple of vCPUs.
	sizes := []struct {
		size  string
		vcpus int
	}{{"large", 2}, {"xlarge", 4}, {"2xlarge", 8}, {"4xlarge", 16}, {"8xlarge", 32}, {"12xlarge", 48}, {"16xlarge", 64}, {"24xlarge", 96}}
	for _, fam := range []struct {
		name       string
		mibPerVCPU int64
		threads    int
		archs      []string
		maxVCPUs   int
	}{
		{"m5", 4096, 2, x86, 96}, {"m6i", 4096, 2, x86, 96}, {"m7i", 4096, 2, x86, 96}, {"m6a", 4096, 2, x86, 96},
		{"c5", 2048, 2, x86, 96}, {"c6i", 2048, 2, x86, 96}, {"c7i", 2048, 2, x86, 96},
		{"r5", 8192, 2, x86, 96}, {"r6i", 8192, 2, x86, 96},
		{"m6g", 4096, 1, arm, 64}, {"m7g", 4096, 1, arm, 64}, {"c7g", 2048, 1, arm, 64}, {"r7g", 8192, 1, arm, 64},
	} {
		for _, sz := range sizes {
			if sz.vcpus <= fam.maxVCPUs {
				out = append(out, instanceType{Name: fam.name + "." + sz.size, VCPUs: sz.vcpus, Threads: fam.threads, MemoryMiB: int64(sz.vcpus) * fam.mibPerVCPU, Archs: fam.archs})
			}
		}
	}
	// Accelerated and HPC types, one by one.
	out = append(out,
		instanceType{Name: "g4dn.xlarge", VCPUs: 4, Threads: 2, MemoryMiB: 16384, Archs: x86, GPUs: 1, GPUName: "T4", GPUMiB: 16384},
		instanceType{Name: "g4dn.2xlarge", VCPUs: 8, Threads: 2, MemoryMiB: 32768, Archs: x86, GPUs: 1, GPUName: "T4", GPUMiB: 16384},
		instanceType{Name: "g4dn.4xlarge", VCPUs: 16, Threads: 2, MemoryMiB: 65536, Archs: x86, GPUs: 1, GPUName: "T4", GPUMiB: 16384},
		instanceType{Name: "g4dn.12xlarge", VCPUs: 48, Threads: 2, MemoryMiB: 196608, Archs: x86, GPUs: 4, GPUName: "T4", GPUMiB: 16384},
		instanceType{Name: "p3.2xlarge", VCPUs: 8, Threads: 2, MemoryMiB: 62464, Archs: x86, GPUs: 1, GPUName: "V100", GPUMiB: 16384},
		instanceType{Name: "p3.8xlarge", VCPUs: 32, Threads: 2, MemoryMiB: 249856, Archs: x86, GPUs: 4, GPUName: "V100", GPUMiB: 16384},
		instanceType{Name: "p3.16xlarge", VCPUs: 64, Threads: 2, MemoryMiB: 499712, Archs: x86, GPUs: 8, GPUName: "V100", GPUMiB: 16384},
		instanceType{Name: "hpc6a.48xlarge", VCPUs: 96, Threads: 1, MemoryMiB: 393216, Archs: x86},
		instanceType{Name: "hpc7g.16xlarge", VCPUs: 64, Threads: 1, MemoryMiB: 131072, Archs: arm},
	)
	slices.SortFunc(out, func(a, b instanceType) int { return strings.Compare(a.Name, b.Name) })
	return out
}

var typeFilters = map[string]field[instanceType]{
	"instance-type": func(_ *Sandbox, t instanceType, _ time.Time) string { return t.Name },
	"processor-info.supported-architecture": func(_ *Sandbox, t instanceType, _ time.Time) string {
		return t.Archs[0]
	},
	"vcpu-info.default-vcpus": func(_ *Sandbox, t instanceType, _ time.Time) string { return strconv.Itoa(t.VCPUs) },
	"memory-info.size-in-mib": func(_ *Sandbox, t instanceType, _ time.Time) string { return strconv.FormatInt(t.MemoryMiB, 10) },
	"burstable-performance-supported": func(_ *Sandbox, t instanceType, _ time.Time) string {
		return strconv.FormatBool(t.Burstable)
	},
}

func (s *Sandbox) describeInstanceTypes(c *call) error {
	preds, err := predicates(c, typeFilters, nil)
	if err != nil {
		return err
	}
	list, err := pick(instanceTypes, func(t instanceType) string { return t.Name }, c.form.list("InstanceType"), func(ids string) error {
		return badParamCode("InvalidInstanceType", "The following supplied instance types do not exist: [%s]", ids)
	})
	if err != nil {
		return err
	}
	return describe(s, c, list, preds, "instanceTypeSet", 100, writeInstanceType)
}

func writeInstanceType(x xmlw, t instanceType) {
	x.open("item")
	x.str("instanceType", t.Name)
	x.bool("currentGeneration", true)
	x.bool("burstablePerformanceSupported", t.Burstable)
	x.items("supportedUsageClasses", []string{"on-demand", "spot"})
	x.str("hypervisor", "nitro")
	x.open("vCpuInfo")
	x.int("defaultVCpus", int64(t.VCPUs))
	x.int("defaultCores", int64(t.cores()))
	x.int("defaultThreadsPerCore", int64(t.Threads))
	x.close("vCpuInfo")
	x.open("memoryInfo")
	x.int("sizeInMiB", t.MemoryMiB)
	x.close("memoryInfo")
	x.open("processorInfo")
	x.items("supportedArchitectures", t.Archs)
	x.close("processorInfo")
	if t.GPUs > 0 {
		x.open("gpuInfo")
		x.open("gpus")
		x.open("item")
		x.str("name", t.GPUName)
		x.str("manufacturer", "NVIDIA")
		x.int("count", int64(t.GPUs))
		x.open("memoryInfo")
		x.int("sizeInMiB", t.GPUMiB)
		x.close("memoryInfo")
		x.close("item")
		x.close("gpus")
		x.int("totalGpuMemoryInMiB", int64(t.GPUs)*t.GPUMiB)
		x.close("gpuInfo")
	}
	x.close("item")
}
