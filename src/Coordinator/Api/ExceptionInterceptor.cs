using Grpc.Core;
using Grpc.Core.Interceptors;
using Orchestrator.Coordinator.Grains;
using Orchestrator.Shared.Specs;

namespace Orchestrator.Coordinator.Api;

/// <summary>Maps the exceptions of handlers and grains to gRPC status codes, and rethrows.</summary>
public sealed partial class ExceptionInterceptor(ILogger<ExceptionInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw Map(e, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw Map(e, context);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw Map(e, context);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw Map(e, context);
        }
    }

    private RpcException Map(Exception e, ServerCallContext context)
    {
        var code = e switch
        {
            SpecException or ArgumentException or FormatException => StatusCode.InvalidArgument,
            SweepConflictException => StatusCode.AlreadyExists,
            KeyNotFoundException or FileNotFoundException => StatusCode.NotFound,
            InvalidOperationException => StatusCode.FailedPrecondition,
            OperationCanceledException when context.CancellationToken.IsCancellationRequested => StatusCode.Cancelled,
            // The coordinator is shutting down: the client should come back.
            OperationCanceledException => StatusCode.Unavailable,
            TimeoutException => StatusCode.DeadlineExceeded,
            _ => StatusCode.Internal,
        };
        if (code == StatusCode.Internal) LogUnexpected(logger, e, context.Method);
        // Internal errors say what failed but not the stack; the log has it.
        return new RpcException(new Status(code, e.Message, code == StatusCode.Internal ? e : null));
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Error, Message = "Unexpected error in {Method}")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method);
}
