package aws

import (
	"slices"

	"github.com/ohfp/ohfp/internal/cloud"
)

// builtinTypes are the facts of common instance types, for when
// DescribeInstanceTypes is denied or fails.
var builtinTypes = buildTypeTable()

// typeFamily describes the sizes of a regular family: each size has
// memPerVCPU GiB per vCPU and threadsPerCore threads per core.
type typeFamily struct {
	names          []string
	arch           string
	memPerVCPU     int64
	threadsPerCore int
	sizes          []string
}

// sizeVCPUs is the vCPU count of a size name in regular families.
var sizeVCPUs = map[string]int{
	"medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32,
	"9xlarge": 36, "12xlarge": 48, "16xlarge": 64, "18xlarge": 72, "24xlarge": 96,
	"32xlarge": 128, "48xlarge": 192,
}

var (
	sizesM5  = []string{"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"}
	sizesM6i = slices.Concat(sizesM5, []string{"32xlarge"})
	sizesM7i = slices.Concat(sizesM5, []string{"48xlarge"})
	sizesC5  = []string{"large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "12xlarge", "18xlarge", "24xlarge"}
	sizesG   = []string{"medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"}
)

var typeFamilies = []typeFamily{
	{names: []string{"m5", "m5a"}, arch: "x86_64", memPerVCPU: 4, threadsPerCore: 2, sizes: sizesM5},
	{names: []string{"m6i", "m6a"}, arch: "x86_64", memPerVCPU: 4, threadsPerCore: 2, sizes: sizesM6i},
	{names: []string{"m7i"}, arch: "x86_64", memPerVCPU: 4, threadsPerCore: 2, sizes: sizesM7i},
	{names: []string{"c5"}, arch: "x86_64", memPerVCPU: 2, threadsPerCore: 2, sizes: sizesC5},
	{names: []string{"c6i"}, arch: "x86_64", memPerVCPU: 2, threadsPerCore: 2, sizes: sizesM6i},
	{names: []string{"c7i"}, arch: "x86_64", memPerVCPU: 2, threadsPerCore: 2, sizes: sizesM7i},
	{names: []string{"r5"}, arch: "x86_64", memPerVCPU: 8, threadsPerCore: 2, sizes: sizesM5},
	{names: []string{"r6i"}, arch: "x86_64", memPerVCPU: 8, threadsPerCore: 2, sizes: sizesM6i},
	{names: []string{"m6g", "m7g"}, arch: "arm64", memPerVCPU: 4, threadsPerCore: 1, sizes: sizesG},
	{names: []string{"c6g", "c7g"}, arch: "arm64", memPerVCPU: 2, threadsPerCore: 1, sizes: sizesG},
	{names: []string{"r6g", "r7g"}, arch: "arm64", memPerVCPU: 8, threadsPerCore: 1, sizes: sizesG},
	{names: []string{"g4dn"}, arch: "x86_64", memPerVCPU: 4, threadsPerCore: 2,
		sizes: []string{"xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"}},
}

// irregularTypes do not follow their family's ratios.
var irregularTypes = []cloud.TypeFacts{
	{Name: "t2.nano", VCPUs: 1, Cores: 1, MemoryMiB: 512, Arch: "x86_64"},
	{Name: "t2.micro", VCPUs: 1, Cores: 1, MemoryMiB: 1024, Arch: "x86_64"},
	{Name: "t2.small", VCPUs: 1, Cores: 1, MemoryMiB: 2048, Arch: "x86_64"},
	{Name: "t2.medium", VCPUs: 2, Cores: 2, MemoryMiB: 4096, Arch: "x86_64"},
	{Name: "t2.large", VCPUs: 2, Cores: 2, MemoryMiB: 8192, Arch: "x86_64"},
	{Name: "t2.xlarge", VCPUs: 4, Cores: 4, MemoryMiB: 16384, Arch: "x86_64"},
	{Name: "t2.2xlarge", VCPUs: 8, Cores: 8, MemoryMiB: 32768, Arch: "x86_64"},
	{Name: "p3.2xlarge", VCPUs: 8, Cores: 4, MemoryMiB: 62464, Arch: "x86_64"},
	{Name: "p3.8xlarge", VCPUs: 32, Cores: 16, MemoryMiB: 249856, Arch: "x86_64"},
	{Name: "p3.16xlarge", VCPUs: 64, Cores: 32, MemoryMiB: 499712, Arch: "x86_64"},
	{Name: "hpc6a.48xlarge", VCPUs: 96, Cores: 96, MemoryMiB: 393216, Arch: "x86_64"},
	{Name: "hpc7g.4xlarge", VCPUs: 16, Cores: 16, MemoryMiB: 131072, Arch: "arm64"},
	{Name: "hpc7g.8xlarge", VCPUs: 32, Cores: 32, MemoryMiB: 131072, Arch: "arm64"},
	{Name: "hpc7g.16xlarge", VCPUs: 64, Cores: 64, MemoryMiB: 131072, Arch: "arm64"},
}

// burstableSizes are the t3, t3a and t4g sizes: vCPUs and MiB.
var burstableSizes = []struct {
	size  string
	vcpus int
	mib   int64
}{
	{"nano", 2, 512}, {"micro", 2, 1024}, {"small", 2, 2048}, {"medium", 2, 4096},
	{"large", 2, 8192}, {"xlarge", 4, 16384}, {"2xlarge", 8, 32768},
}

func buildTypeTable() map[string]cloud.TypeFacts {
	table := make(map[string]cloud.TypeFacts, 256)
	add := func(f cloud.TypeFacts) { table[f.Name] = f }
	for _, fam := range typeFamilies {
		for _, family := range fam.names {
			for _, size := range fam.sizes {
				v := sizeVCPUs[size]
				add(cloud.TypeFacts{Name: family + "." + size, VCPUs: v, Cores: max(v/fam.threadsPerCore, 1),
					MemoryMiB: int64(v) * fam.memPerVCPU * 1024, Arch: fam.arch})
			}
		}
	}
	for _, fam := range []struct {
		name, arch     string
		threadsPerCore int
	}{{"t3", "x86_64", 2}, {"t3a", "x86_64", 2}, {"t4g", "arm64", 1}} {
		for _, s := range burstableSizes {
			add(cloud.TypeFacts{Name: fam.name + "." + s.size, VCPUs: s.vcpus, Cores: s.vcpus / fam.threadsPerCore,
				MemoryMiB: s.mib, Arch: fam.arch})
		}
	}
	for _, f := range irregularTypes {
		add(f)
	}
	return table
}
