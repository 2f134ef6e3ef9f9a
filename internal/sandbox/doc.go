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
//     DescribeSecurityGroups, DescribeKeyPairs, CreateLaunchTemplate,
//     DescribeLaunchTemplates, DeleteLaunchTemplate, CreateFleet,
//     DescribeFleets, DescribeFleetInstances, ModifyFleet, DeleteFleets,
//     RequestSpotFleet, DescribeSpotFleetRequests,
//     DescribeSpotFleetInstances, ModifySpotFleetRequest,
//     CancelSpotFleetRequests, DescribeFleetHistory,
//     DescribeSpotFleetRequestHistory, DescribeSpotPriceHistory (made-up
//     prices: a tenth of a cent per vCPU and hour, a little more in each
//     later zone). Unknown actions answer InvalidAction (400).
//     Every action honours DryRun=true with DryRunOperation (412).
//   - Auto Scaling (Query protocol, 2011-01-01, signing name autoscaling):
//     CreateAutoScalingGroup, UpdateAutoScalingGroup,
//     DescribeAutoScalingGroups, SetDesiredCapacity, DetachInstances,
//     TerminateInstanceInAutoScalingGroup, DeleteAutoScalingGroup,
//     DescribeScalingActivities. Errors are <ErrorResponse> documents
//     (ValidationError, AlreadyExists, ResourceInUse).
//   - STS (Query protocol, 2011-06-15): GetCallerIdentity answers the
//     sandbox account, arn:aws:iam::<account>:user/sandbox and
//     SandboxUserID.
//   - SSM (JSON 1.1): GetParameter, GetParameters.
//
// New actions are a handler in the service's action map (ec2Service,
// autoscalingService, stsService, ssmService); a new service is one more
// register call in New.
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
//     than 200 filter values in one call, summed over its filters, answer
//     FilterLimitExceeded, as EC2 does. MaxResults is 5..1000 and cannot be
//     combined with InstanceId.N; DescribeInstances and TerminateInstances
//     take at most 1,000 ids. A protected instance (Protect) fails
//     TerminateInstances with OperationNotPermitted, and keeps the named
//     instances of its Availability Zone running; those of other zones
//     terminate.
//   - Every rule docs/aws-rules.md marks as enforced: ClientToken at most 64
//     ASCII characters, user data at most 16 KB, tags (50 a resource, the
//     aws: prefix), fleets (below), Auto Scaling (below), and the account
//     quotas of Quotas: beyond them, launches answer InstanceLimitExceeded,
//     VcpuLimitExceeded (on-demand vCPUs) or MaxSpotInstanceCountExceeded
//     (spot vCPUs), RunInstances launching what fits down to MinCount.
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
//   - Spot requests are fulfilled at launch. An interruption for capacity
//     (Interrupt) closes the request with instance-terminated-no-capacity at
//     once, as EC2 does for terminate-on-interruption instances; one for
//     price (InterruptForPrice) marks it marked-for-termination. Either way
//     the instance runs out Options.SpotNotice (2m), then shuts down (the
//     price one's request then closes with instance-terminated-by-price). A
//     user termination closes it with instance-terminated-by-user.
//
// # Launch templates, fleets and groups
//
//   - CreateLaunchTemplate keeps ImageId, InstanceType, KeyName,
//     SecurityGroupIds (or the first network interface's groups and
//     subnet), IamInstanceProfile, UserData, EbsOptimized, Placement's
//     zone, spot InstanceMarketOptions, and the instance and volume
//     TagSpecifications; block device mappings are accepted and dropped.
//     Templates have one version: Version may be "", 1, $Latest or
//     $Default, anything else is InvalidLaunchTemplateId.VersionNotFound.
//     DescribeLaunchTemplates takes ids, names, and the filters
//     launch-template-name and tag:<key>/tag-key/tag-value;
//     DeleteLaunchTemplate takes an id or a name. RunInstances with a
//     template gets its tags too (the call's tags win on the same key).
//   - EC2 Fleet and Spot Fleet draw from pools: each launch template
//     config x override (a comma-separated SubnetId makes one pool per
//     subnet), or each Spot Fleet LaunchSpecification. Pools are checked
//     at creation like RunInstances and walked in the order given, or by
//     Priority ascending when priorities are set (allocation strategies
//     are echoed, not applied). Each launch attempt fills the on-demand
//     part (EC2 Fleet: OnDemandTargetCapacity, or Total minus
//     SpotTargetCapacity when DefaultTargetCapacityType is on-demand;
//     Spot Fleet: OnDemandTargetCapacity), then spot, each instance
//     counting its override's WeightedCapacity; a pool short of capacity
//     (SetCapacity) or subnet addresses gives what it can and records
//     InsufficientInstanceCapacity (or InsufficientFreeAddressesInSubnet)
//     with EC2's message, and the walk goes on to the next pool.
//     Capacity above the total target is never replaced in either market.
//   - Instant fleets launch within CreateFleet and answer fleetInstanceSet
//     and errorSet. Request and maintain fleets (and Spot Fleets) answer
//     their id at once and launch Options.FleetDelay later (0: at the next
//     call); a request fleet makes that one attempt only, and its
//     activityStatus is then fulfilled or error. A maintain fleet launches
//     again whenever its active (pending or running) capacity is below
//     target: after terminations, spot interruptions or a raised target,
//     FleetDelay after noticing, and DefaultRetryDelay (or FleetDelay if
//     longer) after an attempt that fell short.
//   - DescribeFleets answers fleetState (active, deleted_running,
//     deleted_terminating, deleted), activityStatus (pending_fulfillment,
//     fulfilled, error), fulfilled capacities, the target, the configs, and
//     errorSet: the errors of the last attempt (of the launch, for instant
//     fleets); filters fleet-state, activity-status, type and tags.
//     DescribeFleetInstances and DescribeSpotFleetInstances list the active
//     instances (MaxResults/NextToken). DescribeSpotFleetRequests answers
//     spotFleetRequestState (active, cancelled_running,
//     cancelled_terminating, cancelled), activityStatus and the config.
//   - DescribeFleetHistory and DescribeSpotFleetRequestHistory (StartTime,
//     EventType, MaxResults/NextToken) list, oldest first: fleet changes
//     (submitted, active, deleted / cancelled), each launched instance
//     (instanceChange "launched"), and each pool short of capacity (error
//     "launchSpecTemporarilyBlacklisted", described "<type>, <image>,
//     Linux/UNIX, <zone>, <subnet>, <code>: <EC2's message>"). EC2 Fleet
//     names the event types service-error, instance-change, fleet-change.
//   - A fleet request can't span different subnets of one Availability
//     Zone (InvalidFleetConfig), takes ExcessCapacityTerminationPolicy only
//     for type maintain, and, unless instant, at most 300 pools.
//   - ModifyFleet and ModifySpotFleetRequest set the target of maintain
//     fleets only; with ExcessCapacityTerminationPolicy
//     no-termination / noTermination the fleet keeps what it has above
//     the new target but replaces nothing above it; otherwise (EC2's
//     default, termination / default) the newest instances above it are
//     terminated. The policy given at creation or last modification holds.
//   - DeleteFleets and CancelSpotFleetRequests need TerminateInstances
//     (true for an instant fleet); DeleteFleets takes at most 25 instant
//     and 100 other fleets, 125 in all, else deletes none. Both work per id (unsuccessful items fleetIdDoesNotExist,
//     fleetNotInDeletableState, fleetRequestIdDoesNotExist,
//     fleetRequestNotInCancellableState), and stop all launching. Deleted
//     fleets stay describable until their last instance is purged (see
//     TerminatedRetention). A passed ValidUntil cancels a fleet (with
//     its instances if TerminateInstancesWithExpiration).
//   - Instances launched by an EC2 Fleet carry aws:ec2:fleet-id, by a Spot
//     Fleet aws:ec2spot:fleet-request-id, plus their template's instance
//     tags and the fleet's instance TagSpecification; fleet tags stay on
//     the fleet. Spot instances get sir- requests, so
//     DescribeSpotInstanceRequests and Interrupt work on them. A
//     ClientToken seen before answers the same fleet, or
//     IdempotentParameterMismatch when the parameters differ.
//   - Auto Scaling groups take LaunchTemplate, or MixedInstancesPolicy with
//     Overrides (InstanceType, WeightedCapacity) and InstancesDistribution
//     (OnDemandBaseCapacity, OnDemandPercentageAboveBaseCapacity, default
//     100, the on-demand part rounded up), MinSize, MaxSize,
//     DesiredCapacity (default MinSize), VPCZoneIdentifier (or
//     AvailabilityZones: one of them is required) and Tags;
//     SpotInstancePools is 1..20 and only with lowest-price. Pools
//     are override x subnet, walked in that order. A group fulfils like a
//     maintain fleet toward DesiredCapacity, and also terminates the newest
//     instances above it (SetDesiredCapacity, UpdateAutoScalingGroup).
//     Instances carry aws:autoscaling:groupName, the PropagateAtLaunch tags
//     and the template's tags; they are listed Pending, InService, then
//     Terminating while shutting down. DetachInstances and
//     TerminateInstanceInAutoScalingGroup need
//     ShouldDecrementDesiredCapacity: with it, desired capacity drops (not
//     below MinSize) and nothing replaces the instance; without, the group
//     replaces it. DeleteAutoScalingGroup refuses a group with active
//     instances (ResourceInUse) unless ForceDelete, which terminates them;
//     the group is gone at once. DetachInstances takes at most 20
//     instances, each InService (ValidationError "... is not in InService
//     or Standby" otherwise). DescribeScalingActivities lists the failed
//     launches of the last attempt (StatusCode Failed, StatusMessage
//     "InsufficientInstanceCapacity: ...").
//   - Fleets and groups are settled lazily: before each call (and Go
//     snapshot), the ones that may still launch catch up with the sandbox
//     clock; with none, nothing is locked.
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
// offset, registered resources, capacity, quotas) from that JSON file if it exists,
// saves it within a second of each change and on shutdown. Save and Load do
// the same by hand. Faults, pauses, counters, fleets and Auto Scaling groups
// are not saved (their instances and launch templates are).
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
//     in the zone ("" for every zone without a rule of its own); launches
//     (RunInstances, fleets and groups alike) use it up. ClearCapacity,
//     Capacity.
//   - Interrupt(ids...), InterruptForPrice(ids...): spot interruption now.
//   - Protect(ids...): termination protection.
//   - SetQuotas(Quotas{Instances, OnDemandVCPUs, SpotVCPUs}): the
//     account's limits (0: none); QuotasInForce.
//   - Pause(action, PauseBefore|PauseAfter): later calls of action block
//     before changing anything, or after the change is applied but before
//     the answer, until Release(action) ("" for all). Paused(action) counts
//     the calls blocked now. A blocked call whose client goes away ends.
//   - RegisterImage, RegisterSubnet, RegisterLaunchTemplate,
//     RegisterSecurityGroup, RegisterKeyPair, SetParameter (SSM).
//   - Instances, InstancesWithTag(key, value): snapshots with the current
//     state. Fleets() (EC2 and Spot Fleets, deleted ones included) and
//     Groups() (Auto Scaling groups): their state, targets and active
//     instance ids, with the errors of their last launch attempt. Calls:
//     counters per "service:Action" (e.g. "ec2:CreateFleet",
//     "autoscaling:CreateAutoScalingGroup", "sts:GetCallerIdentity");
//     ResetCalls. RecordCalls(true) keeps every call with its parameters
//     (JSON bodies flattened to query-style names), and Journal hands them
//     over: what the IAM evaluation of the plugin's calls reads.
//
// # Control API
//
// The same controls over HTTP, JSON in and out, under /_sandbox/ on the same
// address; errors are 400 {"error": "..."}. Durations are "90s" strings or
// seconds.
//
//	GET    /_sandbox/instances[?tag=key[=value]]  []Instance
//	GET    /_sandbox/fleets                      []Fleet
//	GET    /_sandbox/groups                      []Group
//	GET    /_sandbox/calls                       {"ec2:RunInstances": 3, ...}
//	DELETE /_sandbox/calls                       reset the counters
//	GET    /_sandbox/faults                      armed faults
//	POST   /_sandbox/faults                      {"action":"ec2:RunInstances","code":"InstanceLimitExceeded",
//	                                              "message":"...","status":400,"rate":0.5,"count":2,"delay":"1s"}
//	                                             or {"action":"ec2:DescribeInstances","drop":true,"rate":0.3}:
//	                                              the connection is closed unanswered
//	DELETE /_sandbox/faults[?action=ec2:RunInstances]
//	GET    /_sandbox/capacity                    [{"instanceType":"m5.large","zone":"","remaining":7}]
//	POST   /_sandbox/capacity                    {"instanceType":"m5.large","zone":"us-east-1a","remaining":0}
//	DELETE /_sandbox/capacity
//	POST   /_sandbox/interrupt                   {"instanceIds":["i-..."],"reason":"capacity"|"price"}
//	POST   /_sandbox/protect                     {"instanceIds":["i-..."]}
//	GET    /_sandbox/quotas                      {"instances":0,"onDemandVcpus":0,"spotVcpus":0}
//	POST   /_sandbox/quotas                      {"instances":20,"onDemandVcpus":64,"spotVcpus":32}
//	GET    /_sandbox/pause                       [{"action":"ec2:RunInstances","at":"after","waiting":1}]
//	POST   /_sandbox/pause                       {"action":"ec2:RunInstances","at":"before"|"after"}
//	DELETE /_sandbox/pause[?action=ec2:RunInstances]   release
//	GET    /_sandbox/clock                       {"now":"2026-11-23T17:00:00Z"}
//	POST   /_sandbox/clock                       {"advance":"2m"}
//	POST   /_sandbox/images                      {"id":"ami-...","name":"...","architecture":"arm64","ownerId":"..."}
//	POST   /_sandbox/subnets                     {"id":"subnet-...","zone":"us-east-1a","cidr":"10.1.0.0/16","vpcId":"vpc-..."}
//	POST   /_sandbox/launch-templates            {"id":"lt-...","name":"...","imageId":"...","instanceType":"...",
//	                                              "subnetId":"...","keyName":"...","securityGroupIds":[...],"spot":false,
//	                                              "zone":"...","maxPrice":"...","iamInstanceProfile":"arn:...",
//	                                              "userData":"...","ebsOptimized":true,"instanceTags":{"k":"v"},
//	                                              "volumeTags":{...},"tags":{...}}
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
