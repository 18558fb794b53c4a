using System.CommandLine;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using Orchestrator.Shared.Protos;

namespace Orchestrator.Cli.Remote;

/// <summary>A Jobs API client for the remote commands: the coordinator's URL and bearer token from options or environment.</summary>
public sealed class JobsConnection : IDisposable
{
    /// <summary>The environment variable holding the Jobs API token.</summary>
    public const string TokenVariable = "ORCHESTRATOR_API_TOKEN";
    public const string CoordinatorVariable = "ORCHESTRATOR_COORDINATOR";
    public const string DefaultCoordinator = "http://127.0.0.1:5080";

    private readonly GrpcChannel _channel;
    private readonly string? _token;

    public JobsConnection(Uri coordinator, string? token)
    {
        _token = token;
        // Retries only where a repeat is harmless: every Jobs call is a read, or idempotent (submit by request id,
        // cancel); Unavailable is a coordinator restarting or not yet listening.
        var retry = new MethodConfig
        {
            Names = { MethodName.Default },
            RetryPolicy = new RetryPolicy
            {
                MaxAttempts = 5,
                InitialBackoff = TimeSpan.FromMilliseconds(250),
                MaxBackoff = TimeSpan.FromSeconds(3),
                BackoffMultiplier = 2,
                RetryableStatusCodes = { StatusCode.Unavailable },
            },
        };
        _channel = GrpcChannel.ForAddress(coordinator, new GrpcChannelOptions
        {
            ServiceConfig = new ServiceConfig { MethodConfigs = { retry } },
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        });
        Client = new Jobs.JobsClient(_channel);
        Coordinator = coordinator;
    }

    public Jobs.JobsClient Client { get; }

    public Uri Coordinator { get; }

    public Metadata? Headers => _token is null ? null : new Metadata { { "authorization", $"Bearer {_token}" } };

    /// <summary>A deadline for a unary call.</summary>
    public static DateTime Deadline => DateTime.UtcNow.AddSeconds(30);

    public static Option<string> CoordinatorOption() => new("--coordinator")
    {
        Description = $"The coordinator's URL (default ${CoordinatorVariable} or {DefaultCoordinator})",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable(CoordinatorVariable) ?? DefaultCoordinator,
    };

    public static Option<string> OutputOption() => new("--output")
    {
        Description = "table (default) or json, for scripts",
        DefaultValueFactory = _ => "table",
    };

    /// <summary>The connection for the parsed options; the token comes from ${TokenVariable}.</summary>
    public static JobsConnection From(string coordinator) =>
        new(new Uri(coordinator), Environment.GetEnvironmentVariable(TokenVariable) is { Length: > 0 } token ? token : null);

    /// <summary>A call's failure as one line for stderr.</summary>
    public static string Describe(RpcException e, Uri coordinator) => e.StatusCode switch
    {
        StatusCode.Unauthenticated => $"the coordinator at {coordinator} refused the request: {e.Status.Detail} (set ${TokenVariable})",
        StatusCode.Unavailable => $"the coordinator at {coordinator} is not reachable: {e.Status.Detail}",
        StatusCode.DeadlineExceeded => $"the coordinator at {coordinator} did not answer in time",
        _ => e.Status.Detail,
    };

    public void Dispose() => _channel.Dispose();
}
