using Orchestrator.Shared.Specs;

namespace Orchestrator.Shared.Tests.Specs;

/// <summary>Assertions on the errors a spec is rejected with.</summary>
internal static class SpecAssert
{
    /// <summary>The errors of the <see cref="SpecException"/> that <paramref name="read"/> must throw.</summary>
    public static IReadOnlyList<SpecError> Rejects(Func<object> read) =>
        Assert.Throws<SpecException>(() => read()).Errors;

    /// <summary>The one error that names <paramref name="field"/>.</summary>
    public static SpecError Names(IReadOnlyList<SpecError> errors, string field)
    {
        var matching = errors.Where(e => e.Field == field).ToList();
        Assert.True(matching.Count == 1, $"expected one error for {field}, got: {string.Join(" | ", errors)}");
        return matching[0];
    }

    /// <summary>Rejection with exactly one error, which names <paramref name="field"/>.</summary>
    public static SpecError RejectsOnly(Func<object> read, string field)
    {
        var errors = Rejects(read);
        Assert.True(errors.Count == 1, $"expected only an error for {field}, got: {string.Join(" | ", errors)}");
        return Names(errors, field);
    }
}
