"""A local Amazon Managed Service for Apache Flink endpoint on a real Flink cluster.

What it implements: the `kinesisanalyticsv2` API (AWS JSON 1.1 over `POST /`, `X-Amz-Target:
KinesisAnalytics_20180523.<Operation>`, SigV4-signed) for the operations a rescaling console
needs: DescribeApplication, ListApplications, ListTagsForResource, CreateApplicationSnapshot,
ListApplicationSnapshots, DescribeApplicationSnapshot, DeleteApplicationSnapshot,
UpdateApplication (parallelism, parallelism per KPU, autoscaling, restore configuration,
snapshot and system-rollback settings), ListApplicationOperations,
DescribeApplicationOperation, RollbackApplication, StartApplication and StopApplication.
Every other operation of the model answers `UnsupportedOperationException`.

Where its semantics come from: the official service model in botocore (shapes, required
members, enums, ranges; every request is validated against it and every response, errors
included, is checked against it before it is sent) and the public MSF developer guide
(scaling: "Allocated KPUs = Parallelism / ParallelismPerKPU", the 64-KPU default limit, one
extra KPU billed per application for orchestration; "You must set ConfigurationType to CUSTOM
to change AutoScalingEnabled, Parallelism or ParallelismPerKPU"; a snapshot is taken on update
when snapshots are enabled; system rollback restores the previous version on a failed update).

How it maps onto Flink: an application is one Flink job from a jar; a snapshot is a Flink
savepoint (its path kept internally); an update stops the job with a savepoint and runs the jar
again from the chosen snapshot at the new parallelism through Flink's REST API.

Not implemented: CreateApplication/DeleteApplication (applications come from the start-up
file), SQL and Zeppelin applications, inputs/outputs, VPC, CloudWatch logging, tags,
maintenance windows, versions history (DescribeApplicationVersion), pagination tokens (lists
are answered whole), the autoscaler's own decisions (AUTOSCALING is injected through the side
door `/_standin/...`, which is not part of the AWS API).
"""
