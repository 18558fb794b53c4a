namespace Orchestrator.Coordinator.Search;

/// <summary>A parameter type resolved once, so that inner loops switch on an enum instead of comparing strings.</summary>
internal enum ParameterKind
{
    Uniform,
    LogUniform,
    Int,
    Categorical,
}
