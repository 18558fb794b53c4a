using Microsoft.Extensions.Logging;

namespace Orchestrator.Worker.Agent;

/// <summary>Log messages of attempts (source-generated; stable event ids 100+).</summary>
internal static partial class AgentLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Attempt {AttemptId}: upload of {Name} failed: {Reason}")]
    public static partial void LogUploadFailed(this ILogger logger, string attemptId, string name, string reason);
}
