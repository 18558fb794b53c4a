using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using Orchestrator.Coordinator.Extensions;

namespace Orchestrator.Coordinator.Api;

/// <summary>
/// Bearer tokens: the API token for the Jobs service, the join token for the WorkerGateway. A service whose token is
/// not configured is open (the coordinator then listens on loopback only). Health checks are always open.
/// </summary>
public sealed class AuthInterceptor(IOptions<CoordinatorOptions> options) : Interceptor
{
    private const string JobsPrefix = "/orchestrator.v1.Jobs/";
    private const string WorkersPrefix = "/orchestrator.v1.WorkerGateway/";

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        var auth = options.Value.Auth;
        var (expected, what) = context.Method.StartsWith(JobsPrefix, StringComparison.Ordinal) ? (auth.ApiToken, "API token")
            : context.Method.StartsWith(WorkersPrefix, StringComparison.Ordinal) ? (auth.JoinToken, "join token")
            : (null, "");
        if (string.IsNullOrEmpty(expected)) return;
        var header = context.RequestHeaders.GetValue("authorization");
        const string scheme = "Bearer ";
        if (header is null || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"missing {what}: send 'authorization: Bearer <token>'"));
        var given = Encoding.UTF8.GetBytes(header[scheme.Length..].Trim());
        if (!CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(expected)))
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"wrong {what}"));
    }
}
