using System.Text.RegularExpressions;

namespace Orchestrator.Deploy.Tests.Rendering;

/// <summary>The metric names a PromQL expression (or a Grafana label_values() query) selects.</summary>
public static partial class PromQl
{
    private static readonly HashSet<string> Keywords =
    [
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless", "inf", "nan",
    ];

    public static HashSet<string> MetricNames(string expression)
    {
        // Grafana's label_values(selector, label): the second argument is a label, not a metric.
        var text = LabelValues().Replace(expression, "$1");
        text = Strings().Replace(text, " ");
        text = Variables().Replace(text, " ");
        text = Braces().Replace(text, " ");
        text = Brackets().Replace(text, " ");
        text = Grouping().Replace(text, " ");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in Identifier().Matches(text))
        {
            var name = m.Groups[1].Value;
            if (m.Groups[2].Success || Keywords.Contains(name.ToLowerInvariant())) continue;
            names.Add(name);
        }
        return names;
    }

    [GeneratedRegex(@"label_values\(\s*([^,()]*(?:\{[^}]*\})?)\s*,\s*\w+\s*\)")]
    private static partial Regex LabelValues();

    [GeneratedRegex(""""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)"""")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\$\{[^}]*\}|\$\w+")]
    private static partial Regex Variables();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Braces();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Brackets();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", RegexOptions.IgnoreCase)]
    private static partial Regex Grouping();

    // An identifier not preceded by a digit or a dot (numbers like 0.95), and whether a '(' follows (a function).
    [GeneratedRegex(@"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")]
    private static partial Regex Identifier();
}
