using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Orchestrator.Shared.Specs;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Shared.Sweeps;

/// <summary>
/// A sweep's trial template and the configurations applied to it. A configuration (parameter path → YAML scalar
/// text) is written into the template's YAML tree and the tree is read by <see cref="TrialSpecReader"/>, so a
/// configured trial passes exactly the checks of a trial file, with the same messages.
/// </summary>
public static class TrialTemplate
{
    /// <summary>
    /// The trial with <paramref name="configuration"/> applied, validated.
    /// </summary>
    /// <exception cref="SpecException">The configured trial is invalid; fields are named below <paramref name="path"/>.</exception>
    public static TrialSpec Apply(TrialSpec template, IReadOnlyDictionary<string, string> configuration, string path = "trial")
    {
        var errors = new List<SpecError>();
        var spec = TryApply(template, configuration, path, errors);
        TrialSpecReader.ThrowIfAny(errors);
        return spec;
    }

    /// <summary>Like <see cref="Apply"/>, adding problems to <paramref name="errors"/> instead of throwing.</summary>
    public static TrialSpec TryApply(TrialSpec template, IReadOnlyDictionary<string, string> configuration, string path, List<SpecError> errors)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(configuration);
        var root = ToYaml(template);
        foreach (var (name, text) in configuration)
        {
            if (FindField(name, out var problem) is null)
            {
                errors.Add(new SpecError($"{path}.{name}", problem!));
                continue;
            }
            Set(root, name.Split('.'), text);
        }
        return TrialSpecReader.Read(new YamlSection(root, path, errors));
    }

    /// <summary>
    /// The trial as the YAML mapping a trial file would hold, with the fields that differ from their defaults.
    /// Built from the wire form, whose field names are the YAML keys.
    /// </summary>
    public static YamlMappingNode ToYaml(TrialSpec spec) => ToYaml(spec.ToProto());

    /// <summary>
    /// The scalar field of a trial at a dotted path (`optimizer.generator.lr`), or null with the reason in
    /// <paramref name="problem"/>.
    /// </summary>
    public static FieldDescriptor? FindField(string dottedPath, out string? problem)
    {
        problem = null;
        var message = Protos.TrialSpec.Descriptor;
        var keys = (dottedPath ?? "").Split('.');
        var walked = "";
        for (var i = 0; i < keys.Length; i++)
        {
            var field = message.FindFieldByName(keys[i]);
            if (field is null)
            {
                var allowed = string.Join(", ", message.Fields.InDeclarationOrder().Select(f => f.Name));
                problem = walked.Length == 0
                    ? $"'{dottedPath}' is not a trial field; top-level keys: {allowed}"
                    : $"'{dottedPath}' is not a trial field; keys of {walked}: {allowed}";
                return null;
            }
            walked = walked.Length == 0 ? keys[i] : $"{walked}.{keys[i]}";
            var last = i == keys.Length - 1;
            if (field.FieldType == FieldType.Message)
            {
                if (last)
                {
                    problem = $"'{dottedPath}' is a section, not a value; name one of its fields ({string.Join(", ", field.MessageType.Fields.InDeclarationOrder().Select(f => $"{walked}.{f.Name}"))})";
                    return null;
                }
                message = field.MessageType;
            }
            else if (!last)
            {
                problem = $"'{dottedPath}' is not a trial field; {walked} is a value, not a section";
                return null;
            }
            else
            {
                return field;
            }
        }
        return null;
    }

    /// <summary>Whether the field holds a number that may be fractional (double) rather than an integer.</summary>
    public static bool IsFloatingPoint(FieldDescriptor field) => field.FieldType is FieldType.Double or FieldType.Float;

    /// <summary>Whether the field holds a number of any kind.</summary>
    public static bool IsNumeric(FieldDescriptor field) =>
        IsFloatingPoint(field) || field.FieldType is FieldType.Int32 or FieldType.Int64 or FieldType.UInt32 or FieldType.UInt64 or FieldType.SInt32 or FieldType.SInt64;

    private static YamlMappingNode ToYaml(IMessage message)
    {
        var node = new YamlMappingNode();
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            if (!field.HasPresence || !field.Accessor.HasValue(message)) continue;
            var value = field.Accessor.GetValue(message);
            if (field.FieldType == FieldType.Message)
            {
                var child = ToYaml((IMessage)value);
                if (child.Children.Count > 0) node.Add(field.Name, child);
                continue;
            }
            node.Add(field.Name, new YamlScalarNode(Scalar(value)));
        }
        return node;
    }

    private static string Scalar(object value) => value switch
    {
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static void Set(YamlMappingNode root, string[] keys, string text)
    {
        var node = root;
        for (var i = 0; i < keys.Length - 1; i++)
        {
            var key = new YamlScalarNode(keys[i]);
            if (!node.Children.TryGetValue(key, out var child) || child is not YamlMappingNode map)
            {
                map = new YamlMappingNode();
                node.Children[key] = map;
            }
            node = map;
        }
        node.Children[new YamlScalarNode(keys[^1])] = new YamlScalarNode(text);
    }
}
