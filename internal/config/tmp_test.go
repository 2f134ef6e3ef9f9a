package config

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkTmpYAML(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("provider: {aws: {region: us-east-1}}\ntemplates:\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, "  - template_id: t%d\n    max_number: 10\n    price_type: spot\n    attributes:\n      ncpus: [Numeric, 2]\n      nram: [Numeric, 8192]\n      vm_type: m5.large\n      image_id: ami-0abcdef1234567890\n      subnet_ids: [subnet-1, subnet-2]\n      security_group_ids: [sg-1]\n    instance_tags: {Project: symphony, Owner: grid}\n", i)
	}
	dir := b.TempDir()
	write(b, dir, map[string]string{"config.yml": sb.String()})
	env := envOf(map[string]string{"HF_PROVIDER_CONFDIR": dir})
	Load(env)
	b.ResetTimer()
	for b.Loop() {
		c, err := Load(env)
		if err != nil || len(c.Templates) != 1000 {
			b.Fatal(err)
		}
	}
}
