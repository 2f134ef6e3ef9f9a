package aws

import (
	"context"
	"slices"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ohfp/ohfp/internal/cloud"
)

// typeBatch is the most types one DescribeInstanceTypes call takes.
const typeBatch = 100

// InstanceTypes returns the facts of the named types: cached, else from
// DescribeInstanceTypes, else (the call denied or failing) from a built-in
// table. A type unknown to all three is absent from the map; only that is
// ever reported, never an error, since the facts only fill in attributes.
func (p *Provider) InstanceTypes(ctx context.Context, names []string) (map[string]cloud.TypeFacts, error) {
	facts := make(map[string]cloud.TypeFacts, len(names))
	var missing []string
	for _, name := range names {
		if _, done := facts[name]; done || slices.Contains(missing, name) {
			continue
		}
		var f cloud.TypeFacts
		if p.fact(ctx, typeFactKey(name), &f) && f.Known() {
			facts[name] = f
		} else {
			missing = append(missing, name)
		}
	}
	for batch := range slices.Chunk(missing, typeBatch) {
		if err := p.describeTypes(ctx, batch, facts); err != nil {
			p.log.Warn("cannot describe instance types, using the built-in table", "err", err)
			break
		}
	}
	for _, name := range missing {
		if _, ok := facts[name]; !ok {
			if f, ok := builtinTypes[name]; ok {
				facts[name] = f
			}
		}
	}
	return facts, nil
}

// describeTypes adds the facts of names to facts and to the cache. Names
// EC2 rejects as invalid are left out and the rest asked again.
func (p *Provider) describeTypes(ctx context.Context, names []string, facts map[string]cloud.TypeFacts) error {
	invalid, err := dropRejected(names, codeInvalidInstanceType, func(names []string) error {
		in := &ec2.DescribeInstanceTypesInput{InstanceTypes: make([]types.InstanceType, len(names))}
		for i, n := range names {
			in.InstanceTypes[i] = types.InstanceType(n)
		}
		pages := ec2.NewDescribeInstanceTypesPaginator(p.ec2, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx, p.describeOpts...)
			if err != nil {
				return err
			}
			for i := range page.InstanceTypes {
				f := toTypeFacts(&page.InstanceTypes[i])
				if !f.Known() {
					p.log.Warn("AWS describes an instance type without vCPUs or memory; using the built-in table", "instance_type", f.Name,
						"vcpus", f.VCPUs, "memory_mib", f.MemoryMiB)
					continue
				}
				facts[f.Name] = f
				p.putFact(ctx, typeFactKey(f.Name), f)
			}
		}
		return nil
	})
	if len(invalid) > 0 {
		p.log.Warn("unknown instance types", "instance_types", invalid)
	}
	if err != nil {
		return awsError("ec2:DescribeInstanceTypes", err)
	}
	return nil
}

func typeFactKey(name string) string { return "itype:" + name }

// toTypeFacts keeps what HostFactory needs of an instance type.
func toTypeFacts(it *types.InstanceTypeInfo) cloud.TypeFacts {
	f := cloud.TypeFacts{Name: string(it.InstanceType)}
	if v := it.VCpuInfo; v != nil {
		f.VCPUs = int(awssdk.ToInt32(v.DefaultVCpus))
		f.Cores = int(awssdk.ToInt32(v.DefaultCores))
	}
	if it.MemoryInfo != nil {
		f.MemoryMiB = awssdk.ToInt64(it.MemoryInfo.SizeInMiB)
	}
	if it.ProcessorInfo != nil {
		for _, a := range it.ProcessorInfo.SupportedArchitectures {
			if a == types.ArchitectureTypeX8664 || a == types.ArchitectureTypeArm64 {
				f.Arch = string(a)
				break
			}
		}
	}
	return f
}
