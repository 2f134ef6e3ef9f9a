// Package sandbox is a local AWS endpoint on 127.0.0.1 that speaks AWS's
// real wire protocols, so ordinary aws-sdk-go-v2 clients run unchanged
// against it: point them at it with BaseEndpoint, AWS_ENDPOINT_URL or
// AWS_ENDPOINT_URL_EC2 / _SSM, with any static credentials. It is the test
// bed of every ohfp test and the engine of `ohfp sandbox`, where
// administrators rehearse HostFactory without an AWS bill.
//
// # Services and actions
//
// One handler serves every service. The service comes from the SigV4
// credential scope of the Authorization header (".../us-east-1/ec2/aws4_request"),
// else from X-Amz-Target (JSON protocols) or the Version form field (query
// protocols). Signatures are not checked.
//
//   - EC2 (Query protocol, 2016-11-15): RunInstances, DescribeInstances,
//     TerminateInstances, CreateTags, DeleteTags, DescribeInstanceTypes,
//     DescribeImages, DescribeSpotInstanceRequests, DescribeSubnets,
//     DescribeSecurityGroups, DescribeKeyPairs. Unknown actions answer
//     InvalidAction (400). Every action honours DryRun=true with
//     DryRunOperation (412).
//   - SSM (JSON 1.1): GetParameter, GetParameters.
//
// New actions are a handler in the service's action map (ec2Service,
// ssmService); a new service is one more register call in New.
//
// # Behaviour copied from EC2
//
//   - Instances go pending, then running after Options.PendingDelay;
//     TerminateInstances makes them shutting-down, then terminated after
//     Options.ShutdownDelay. Terminated instances stay visible for
//     Options.TerminatedRetention (1h), then vanish. States follow from
//     timestamps and the sandbox clock at each read: no goroutine per
//     instance.
//   - A new instance is invisible to every call but its launch answer for
//     Options.ConsistencyDelay (eventual consistency).
//   - DescribeInstances, TerminateInstances and CreateTags by id fail the
//     whole call with InvalidInstanceID.NotFound if any id is unknown or
//     invisible; the instance-id filter simply leaves such ids out. More
//     than 200 filter values in one call answer FilterLimitExceeded, as EC2
//     does. MaxResults is 5..1000 and cannot be combined with InstanceId.N.
//   - DescribeInstances filters: instance-id, instance-state-name,
//     instance-state-code, instance-type, image-id, subnet-id, vpc-id,
//     availability-zone, reservation-id, client-token, key-name,
//     private-ip-address, private-dns-name, instance-lifecycle,
//     spot-instance-request-id, tag:<key>, tag-key, tag-value; values take
//     the * and ? wildcards. Unknown filter names answer InvalidParameterValue.
//   - RunInstances checks the image, instance type (and its architecture
//     against the image's), subnet, security groups, key pair and launch
//     template, and launches up to MaxCount as capacity allows, failing with
//     InsufficientInstanceCapacity (500) only below MinCount. Private IPs
//     come from the subnet's CIDR (names ip-a-b-c-d.ec2.internal). Tags of
//     TagSpecification (instance, volume, spot-instances-request) are stored
//     atomically with the launch. InstanceMarketOptions.MarketType=spot makes
//     a spot instance with a sir- request. A ClientToken seen before with the
//     same parameters answers the first reservation and launches nothing;
//     with different parameters, IdempotentParameterMismatch.
//   - Spot requests are fulfilled at launch. After an interruption
//     (Interrupt) the request is marked-for-termination; Options.SpotNotice
//     (2m) later the instance shuts down and the request is closed with
//     instance-terminated-by-price. A user termination closes it with
//     instance-terminated-by-user.
//
// Every sandbox starts with images DefaultImageID (x86_64) and
// DefaultArmImageID (arm64), subnets DefaultSubnetIDs in zones a, b and c
// (10.0.0.0/18, 10.0.64.0/18, 10.0.128.0/18), security group
// DefaultSecurityGroupID, key pair DefaultKeyName, and the Amazon Linux SSM
// parameters /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{x86_64,arm64}
// (and -6.1-, and amzn2-ami-hvm-*-gp2) resolving to those images.
//
// # Time and persistence
//
// Sandbox time is Options.Now (default time.Now) plus whatever Advance
// added, so tests drive delays, retention and spot notices without waiting.
//
// With Options.StateFile, Serve loads the world (instances, tokens, clock
// offset, registered resources, capacity) from that JSON file if it exists,
// saves it within a second of each change and on shutdown. Save and Load do
// the same by hand. Faults, pauses and counters are not saved.
//
// # Faults and controls from Go
//
//   - AddFault(Fault{Action: "ec2:RunInstances", Code: "InsufficientInstanceCapacity",
//     Rate: 0.5, Count: 3, Delay: time.Second}): the first matching fault
//     that hits (Rate, 0 = always; Count, 0 = unlimited) waits Delay, then
//     answers Code with EC2's real status and message for known codes
//     (InsufficientInstanceCapacity 500, InstanceLimitExceeded 400,
//     RequestLimitExceeded 503, UnauthorizedOperation 403 with an encoded
//     authorization message, ...). Status alone gives a bare 500
//     InternalError or 503 Unavailable, which the SDK retries; Delay alone
//     only slows calls. ClearFaults(action) ("" for all), Faults().
//   - SetCapacity(instanceType, zone, n): only n more instances of the type
//     in the zone ("" for every zone without a rule of its own); launches use
//     it up. ClearCapacity, Capacity.
//   - Interrupt(ids...): spot interruption notice now.
//   - Pause(action, PauseBefore|PauseAfter): later calls of action block
//     before changing anything, or after the change is applied but before
//     the answer, until Release(action) ("" for all). Paused(action) counts
//     the calls blocked now. A blocked call whose client goes away ends.
//   - RegisterImage, RegisterSubnet, RegisterLaunchTemplate,
//     RegisterSecurityGroup, RegisterKeyPair, SetParameter (SSM).
//   - Instances, InstancesWithTag(key, value): snapshots with the current
//     state. Calls: counters per "service:Action"; ResetCalls.
//
// # Control API
//
// The same controls over HTTP, JSON in and out, under /_sandbox/ on the same
// address; errors are 400 {"error": "..."}. Durations are "90s" strings or
// seconds.
//
//	GET    /_sandbox/instances[?tag=key[=value]]  []Instance
//	GET    /_sandbox/calls                       {"ec2:RunInstances": 3, ...}
//	DELETE /_sandbox/calls                       reset the counters
//	GET    /_sandbox/faults                      armed faults
//	POST   /_sandbox/faults                      {"action":"ec2:RunInstances","code":"InstanceLimitExceeded",
//	                                              "message":"...","status":400,"rate":0.5,"count":2,"delay":"1s"}
//	DELETE /_sandbox/faults[?action=ec2:RunInstances]
//	GET    /_sandbox/capacity                    [{"instanceType":"m5.large","zone":"","remaining":7}]
//	POST   /_sandbox/capacity                    {"instanceType":"m5.large","zone":"us-east-1a","remaining":0}
//	DELETE /_sandbox/capacity
//	POST   /_sandbox/interrupt                   {"instanceIds":["i-..."]}
//	GET    /_sandbox/pause                       [{"action":"ec2:RunInstances","at":"after","waiting":1}]
//	POST   /_sandbox/pause                       {"action":"ec2:RunInstances","at":"before"|"after"}
//	DELETE /_sandbox/pause[?action=ec2:RunInstances]   release
//	GET    /_sandbox/clock                       {"now":"2026-11-23T17:00:00Z"}
//	POST   /_sandbox/clock                       {"advance":"2m"}
//	POST   /_sandbox/images                      {"id":"ami-...","name":"...","architecture":"arm64","ownerId":"..."}
//	POST   /_sandbox/subnets                     {"id":"subnet-...","zone":"us-east-1a","cidr":"10.1.0.0/16","vpcId":"vpc-..."}
//	POST   /_sandbox/launch-templates            {"id":"lt-...","name":"...","imageId":"...","instanceType":"...",
//	                                              "subnetId":"...","keyName":"...","securityGroupIds":[...],"spot":false}
//	POST   /_sandbox/security-groups             {"id":"sg-...","name":"..."}
//	POST   /_sandbox/key-pairs                   {"name":"..."}
//	POST   /_sandbox/ssm-parameters              {"name":"/my/ami","value":"ami-..."}
//
// # A client-side race to know about
//
// aws-sdk-go-v2 closes a request body as soon as the response headers
// arrive, while net/http may still be finishing the request; the body's
// WriteTo then reports io.EOF as an error and net/http drops the connection
// under the response being read ("use of closed network connection",
// aws/aws-sdk-go-v2#2737). Against a fast local endpoint that happens often
// on large answers. internal/cloud/aws wraps request bodies to hide WriteTo
// (bodyGuard); other clients should do the same, or set Options.Latency to
// make it rarer.
package sandbox
