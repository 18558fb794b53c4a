using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Tests.Functional;

public sealed class SecurityTests
{
    [Fact]
    public async Task Calls_without_the_right_token_are_unauthenticated_and_health_stays_open()
    {
        await using var host = await CoordinatorHost.StartAsync(apiToken: "api-secret", joinToken: "join-secret");

        await Sweeps.RejectsAsync(() => host.Jobs(token: "").ListSweepsAsync(new Proto.ListSweepsRequest()).ResponseAsync, StatusCode.Unauthenticated);
        await Sweeps.RejectsAsync(() => host.Jobs(token: "wrong").ListSweepsAsync(new Proto.ListSweepsRequest()).ResponseAsync, StatusCode.Unauthenticated);
        // The join token does not open the Jobs API.
        await Sweeps.RejectsAsync(() => host.Jobs(token: "join-secret").ListSweepsAsync(new Proto.ListSweepsRequest()).ResponseAsync, StatusCode.Unauthenticated);
        Assert.Empty((await host.Jobs().ListSweepsAsync(new Proto.ListSweepsRequest())).Sweeps);

        await using var intruder = new TestWorker(host.Address, "intruder", joinToken: "api-secret");
        var refused = await Sweeps.RejectsAsync(async () =>
        {
            // The gateway refuses on the call's headers, before any message: a Hello written here would race the
            // server's reset of the stream and could fail as Cancelled instead of reporting the refusal. The deadline
            // turns an accepted call (which would wait for a Hello) into a failure instead of a hang.
            using var call = intruder.Client().Connect(deadline: DateTime.UtcNow.AddSeconds(20));
            await call.ResponseStream.MoveNext();
        }, StatusCode.Unauthenticated);
        Assert.Contains("join token", refused.Status.Detail, StringComparison.Ordinal);

        await using var member = new TestWorker(host.Address, "member", joinToken: "join-secret");
        await member.StartAsync();
        await Sweeps.WaitUntilAsync(() => member.Welcomes > 0, "the welcome of a worker with the join token");

        using var channel = GrpcChannel.ForAddress(host.Address);
        var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        using var http = new HttpClient();
        Assert.True((await http.GetAsync($"http://127.0.0.1:{host.HttpPort}/alive")).IsSuccessStatusCode);
        Assert.True((await http.GetAsync($"http://127.0.0.1:{host.HttpPort}/health")).IsSuccessStatusCode);
    }

    [Fact]
    public async Task Artifact_names_that_could_escape_the_store_are_refused()
    {
        await using var host = await CoordinatorHost.StartAsync();
        var jobs = host.Jobs();
        await using var worker = new TestWorker(host.Address, "uploader");
        worker.RunTrials = false;
        await worker.StartAsync();
        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { Spec = Sweeps.Sleep(maxTrials: 1, parallel: 1) });
        await Sweeps.WaitUntilAsync(() => !worker.Assignments.IsEmpty, "an assignment");
        var attempt = worker.Assignments.Single().AttemptId;

        foreach (var name in new[] { "../../etc/passwd", "/tmp/x", "a/b" })
        {
            var download = await Sweeps.RejectsAsync(async () =>
            {
                using var call = jobs.DownloadArtifact(new Proto.DownloadArtifactRequest { SweepId = submitted.SweepId, TrialNumber = 0, Name = name });
                await call.ResponseStream.MoveNext();
            }, StatusCode.InvalidArgument);
            Assert.Contains("artifact name", download.Status.Detail, StringComparison.Ordinal);

            var upload = await Sweeps.RejectsAsync(async () =>
            {
                using var call = worker.Client().UploadArtifact();
                await call.RequestStream.WriteAsync(new Proto.ArtifactUpload { Header = new Proto.ArtifactHeader { AttemptId = attempt, Name = name, Kind = "checkpoint" } });
                await call.RequestStream.CompleteAsync();
                await call;
            }, StatusCode.InvalidArgument);
            Assert.Contains("artifact name", upload.Status.Detail, StringComparison.Ordinal);
        }
        Assert.Empty(Directory.GetFiles(host.Directory, "passwd", SearchOption.AllDirectories));

        // A valid name round-trips through upload and download.
        using (var call = worker.Client().UploadArtifact())
        {
            await call.RequestStream.WriteAsync(new Proto.ArtifactUpload { Header = new Proto.ArtifactHeader { AttemptId = attempt, Name = "samples-1.png", Kind = "samples", Step = 1 } });
            await call.RequestStream.WriteAsync(new Proto.ArtifactUpload { Chunk = new Proto.ArtifactChunk { Data = Google.Protobuf.ByteString.CopyFromUtf8("png") } });
            await call.RequestStream.CompleteAsync();
            Assert.Equal(3, (await call).Size);
        }
        using var get = jobs.DownloadArtifact(new Proto.DownloadArtifactRequest { SweepId = submitted.SweepId, TrialNumber = 0, Name = "samples-1.png" });
        var chunks = new List<Proto.ArtifactData>();
        await foreach (var chunk in get.ResponseStream.ReadAllAsync()) chunks.Add(chunk);
        Assert.Equal("png", string.Concat(chunks.Select(c => c.Data.ToStringUtf8())));
    }
}
