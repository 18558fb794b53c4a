using Grpc.Core;
using Orchestrator.Shared.Protos;
using Attempt = Orchestrator.Worker.Agent.Attempt;

namespace Orchestrator.Worker.Tests.Agent;

/// <summary>How an attempt whose own code threw ends: retried when the coordinator was away, failed when the input was bad.</summary>
public class AttemptResultTests
{
    [Theory]
    [InlineData(StatusCode.Unavailable)]
    [InlineData(StatusCode.DeadlineExceeded)]
    [InlineData(StatusCode.Cancelled)]
    [InlineData(StatusCode.Aborted)]
    public void A_coordinator_that_went_away_mid_download_interrupts_the_attempt_so_it_is_retried(StatusCode code)
    {
        var result = Attempt.ResultOf(new RpcException(new Status(code, "connection refused")), stopping: false, ResultStatus.Canceled, "stopped", step: 7);

        Assert.Equal(ResultStatus.Interrupted, result.Status);
        Assert.Contains(code.ToString(), result.Reason);
        Assert.Contains("connection refused", result.Reason);
        Assert.Equal(7, result.Step);
    }

    [Fact]
    public void A_checkpoint_the_coordinator_does_not_have_fails_the_attempt_naming_it()
    {
        var result = Attempt.ResultOf(new RpcException(new Status(StatusCode.NotFound, "no artifact 'checkpoint-000000100.ckpt' for trial 3")),
            stopping: false, ResultStatus.Canceled, "stopped", step: 0);

        Assert.Equal(ResultStatus.Failed, result.Status);
        Assert.Contains("checkpoint-000000100.ckpt", result.Reason);
    }

    [Fact]
    public void A_bad_resume_artifact_name_fails_the_attempt()
    {
        var result = Attempt.ResultOf(new InvalidDataException("resume artifact 'x' is not named checkpoint-<step>.ckpt"), stopping: false, ResultStatus.Canceled, "stopped", step: 0);

        Assert.Equal(ResultStatus.Failed, result.Status);
        Assert.Contains("checkpoint-<step>.ckpt", result.Reason);
    }

    [Theory]
    [InlineData(ResultStatus.Canceled, "cancelled by the sweep")]
    [InlineData(ResultStatus.Interrupted, "worker shutting down")]
    public void A_stop_during_the_download_ends_the_attempt_as_the_stop_asked(ResultStatus stopStatus, string reason)
    {
        foreach (var e in new Exception[] { new OperationCanceledException(), new RpcException(new Status(StatusCode.Cancelled, "call cancelled")) })
        {
            var result = Attempt.ResultOf(e, stopping: true, stopStatus, reason, step: 3);

            Assert.Equal(stopStatus, result.Status);
            Assert.Equal(reason, result.Reason);
        }
    }
}
