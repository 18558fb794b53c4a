using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Shared.Specs;

/// <summary>
/// A YAML mapping read key by key: typed getters record errors with the full field path, and
/// <see cref="Finish"/> reports every key that no getter asked for, listing the allowed ones.
/// </summary>
public sealed partial class YamlSection
{
    private readonly YamlMappingNode? _node;
    private readonly List<SpecError> _errors;
    private readonly List<string> _known = [];

    public YamlSection(YamlMappingNode? node, string path, List<SpecError> errors)
    {
        _node = node;
        Path = path;
        _errors = errors;
    }

    public string Path { get; }

    /// <summary>The same mapping, reporting into another error list.</summary>
    public YamlSection WithErrors(List<SpecError> errors) => new(_node, Path, errors);

    public bool Has(string key) => Find(key) is not null;

    public void Error(string key, string message) => _errors.Add(new SpecError(Join(key), message));

    /// <summary>Adds problems found by a validator that checked the values this section read.</summary>
    public void AddErrors(IEnumerable<SpecError> errors) => _errors.AddRange(errors);

    /// <summary>
    /// Whether a key at a dotted path below this mapping (`loss.real_label`) is present, whatever its
    /// value. Unlike <see cref="Has"/> it does not count as reading the key, so a validator may ask
    /// after <see cref="Finish"/> without changing which keys are allowed.
    /// </summary>
    public bool Contains(string dottedPath)
    {
        YamlNode? node = _node;
        foreach (var key in dottedPath.Split('.'))
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out node))
                return false;
        }
        return true;
    }

    public string Join(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public YamlSection Section(string key)
    {
        var node = Find(key);
        if (node is null or YamlScalarNode { Value: null or "" or "~" or "null" })
            return new YamlSection(null, Join(key), _errors);
        if (node is YamlMappingNode map)
            return new YamlSection(map, Join(key), _errors);
        Error(key, $"must be a mapping of keys, got {Describe(node)}");
        return new YamlSection(null, Join(key), _errors);
    }

    public string String(string key, string fallback, IReadOnlyCollection<string>? allowed = null)
    {
        var node = Find(key);
        if (node is null) return fallback;
        if (node is not YamlScalarNode { Value: { } text })
        {
            Error(key, $"must be a string{AllowedSuffix(allowed)}, got {Describe(node)}");
            return fallback;
        }
        if (allowed is not null && !allowed.Contains(text))
        {
            Error(key, $"unknown value '{text}'{AllowedSuffix(allowed)}");
            return fallback;
        }
        return text;
    }

    public string? OptionalString(string key)
    {
        var node = Find(key);
        if (node is null or YamlScalarNode { Value: null or "~" or "null" }) return null;
        if (node is YamlScalarNode { Value: { } text }) return text;
        Error(key, $"must be a string, got {Describe(node)}");
        return null;
    }

    public int Int(string key, int fallback, int? min = null, int? max = null)
    {
        var node = Find(key);
        if (node is null) return fallback;
        if (node is not YamlScalarNode { Value: { } text } ||
            !long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            Error(key, $"must be an integer, got {Describe(node)}");
            return fallback;
        }
        if (value is < int.MinValue or > int.MaxValue)
        {
            // Checked apart from the caller's bounds: with only a minimum, "must be >= 1" would be
            // the message for a value that is >= 1 but does not fit.
            Error(key, $"must be {BoundsText.Ints(min ?? int.MinValue, max ?? int.MaxValue)}, got {value}");
            return fallback;
        }
        if ((min is { } lo && value < lo) || (max is { } hi && value > hi))
        {
            Error(key, $"must be {BoundsText.Ints(min, max)}, got {value}");
            return fallback;
        }
        return (int)value;
    }

    /// <summary>An integer, or null when the key is absent or null.</summary>
    public int? OptionalInt(string key, int? min = null, int? max = null)
    {
        var node = Find(key);
        if (node is null or YamlScalarNode { Value: null or "~" or "null" }) return null;
        const int sentinel = int.MinValue;
        int value = Int(key, sentinel, min, max);
        return value == sentinel ? null : value;
    }

    /// <summary>A finite number; <paramref name="exclusiveMin"/> makes min a strict bound.</summary>
    public double Double(string key, double fallback, double? min = null, double? max = null, bool exclusiveMin = false)
    {
        var node = Find(key);
        if (node is null) return fallback;
        return ParseDouble(key, node, min, max, exclusiveMin) ?? fallback;
    }

    public double? OptionalDouble(string key, double? min = null, double? max = null, bool exclusiveMin = false)
    {
        var node = Find(key);
        if (node is null or YamlScalarNode { Value: null or "~" or "null" }) return null;
        return ParseDouble(key, node, min, max, exclusiveMin);
    }

    public bool Bool(string key, bool fallback)
    {
        var node = Find(key);
        if (node is null) return fallback;
        if (node is YamlScalarNode { Value: { } text })
        {
            switch (text)
            {
                case "true" or "True" or "TRUE" or "yes": return true;
                case "false" or "False" or "FALSE" or "no": return false;
            }
        }
        Error(key, $"must be true or false, got {Describe(node)}");
        return fallback;
    }

    /// <summary>
    /// A list of mappings (`parameters:`), each read as a section named `key[i]`; null or absent is an empty list.
    /// Elements that are not mappings are reported and skipped.
    /// </summary>
    public IReadOnlyList<YamlSection> Sequence(string key, int maxItems)
    {
        var node = Find(key);
        if (node is null or YamlScalarNode { Value: null or "" or "~" or "null" }) return [];
        if (node is not YamlSequenceNode list)
        {
            Error(key, $"must be a list, got {Describe(node)}");
            return [];
        }
        if (list.Children.Count > maxItems)
        {
            Error(key, $"has {list.Children.Count} entries; the limit is {maxItems}");
            return [];
        }
        var sections = new List<YamlSection>(list.Children.Count);
        for (var i = 0; i < list.Children.Count; i++)
        {
            if (list.Children[i] is YamlMappingNode map)
                sections.Add(new YamlSection(map, $"{Join(key)}[{i}]", _errors));
            else
                _errors.Add(new SpecError($"{Join(key)}[{i}]", $"must be a mapping of keys, got {Describe(list.Children[i])}"));
        }
        return sections;
    }

    /// <summary>A list of scalars as their text (`values: [adam, rmsprop]`); null when absent.</summary>
    public IReadOnlyList<string>? StringList(string key, int maxItems)
    {
        var node = Find(key);
        if (node is null or YamlScalarNode { Value: null or "~" or "null" }) return null;
        if (node is not YamlSequenceNode list)
        {
            Error(key, $"must be a list, got {Describe(node)}");
            return null;
        }
        if (list.Children.Count > maxItems)
        {
            Error(key, $"has {list.Children.Count} entries; the limit is {maxItems}");
            return null;
        }
        var values = new List<string>(list.Children.Count);
        for (var i = 0; i < list.Children.Count; i++)
        {
            if (list.Children[i] is YamlScalarNode { Value: { } text })
                values.Add(text);
            else
                _errors.Add(new SpecError($"{Join(key)}[{i}]", $"must be a scalar, got {Describe(list.Children[i])}"));
        }
        return values;
    }

    /// <summary>A list of finite numbers; null when absent.</summary>
    public IReadOnlyList<double>? DoubleList(string key, int maxItems)
    {
        var texts = StringList(key, maxItems);
        if (texts is null) return null;
        var values = new List<double>(texts.Count);
        for (var i = 0; i < texts.Count; i++)
        {
            if (ParseDouble($"{key}[{i}]", new YamlScalarNode(texts[i]), null, null, false) is { } value)
                values.Add(value);
        }
        return values;
    }

    /// <summary>Reports keys present in the mapping that no getter asked for.</summary>
    public void Finish()
    {
        if (_node is null) return;
        foreach (var (keyNode, _) in _node.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? keyNode.ToString();
            if (!_known.Contains(key))
                _errors.Add(new SpecError(Join(key), $"unknown key; allowed keys: {string.Join(", ", _known)}"));
        }
    }

    private double? ParseDouble(string key, YamlNode node, double? min, double? max, bool exclusiveMin)
    {
        if (node is YamlScalarNode { Value: { } special } && YamlNonFinite().IsMatch(special))
        {
            // YAML's own spellings of infinity and NaN, which double.TryParse does not know; without
            // this they would be reported as "not a number" rather than as "not finite".
            Error(key, $"must be a finite number, got {special}");
            return null;
        }
        if (node is not YamlScalarNode { Value: { } text } ||
            !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            Error(key, $"must be a number, got {Describe(node)}");
            return null;
        }
        if (!double.IsFinite(value))
        {
            Error(key, $"must be a finite number, got {text}");
            return null;
        }
        if (BoundsText.OutOfRange(value, min, max, exclusiveMin))
        {
            Error(key, $"must be {BoundsText.Doubles(min, max, exclusiveMin)}, got {text}");
            return null;
        }
        return value;
    }

    private YamlNode? Find(string key)
    {
        if (!_known.Contains(key)) _known.Add(key);
        if (_node is null) return null;
        return _node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;
    }

    private static string AllowedSuffix(IReadOnlyCollection<string>? allowed) =>
        allowed is null ? "" : $"; allowed: {string.Join(", ", allowed)}";

    private static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode s => $"'{s.Value}'",
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ => node.NodeType.ToString(),
    };

    [GeneratedRegex(@"^([-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")]
    private static partial Regex YamlNonFinite();
}
