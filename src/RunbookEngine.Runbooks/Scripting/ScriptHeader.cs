using System.Text;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Runbooks.Scripting;

/// <summary>
/// Finds the metadata block of a C# script runbook: a <c>/*---</c> … <c>---*/</c> comment before any code whose
/// body is YAML (name, description, inputs, outputs, triggers). It is read without compiling or running anything.
/// </summary>
internal static class ScriptHeader
{
    public const string Open = "/*---";
    public const string Close = "---*/";

    /// <summary>The block's YAML, padded with empty lines so that YAML positions are the file's; or a problem.</summary>
    public static (string? Yaml, RunbookDiagnostic? Problem) Find(string file, string source)
    {
        var lines = source.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r').Trim();
            if (line == Open)
            {
                for (var j = i + 1; j < lines.Length; j++)
                {
                    if (lines[j].TrimEnd('\r').Trim() == Close)
                    {
                        var yaml = new StringBuilder();
                        yaml.Append('\n', i + 1);
                        for (var k = i + 1; k < j; k++)
                        {
                            yaml.Append(lines[k].TrimEnd('\r')).Append('\n');
                        }

                        return (yaml.ToString(), null);
                    }
                }

                return (null, new RunbookDiagnostic(new SourceLocation(file, i + 1, 1), $"the metadata block opened here is not closed: end it with a line '{Close}'"));
            }

            if (line.Length > 0 && !line.StartsWith("//", StringComparison.Ordinal) && !(i == 0 && line.StartsWith("#!", StringComparison.Ordinal)))
            {
                break;
            }
        }

        return (null, new RunbookDiagnostic(
            new SourceLocation(file, 1, 1),
            $"missing metadata: a script runbook starts with a '{Open}' … '{Close}' comment block whose YAML declares at least 'name' (and description, inputs, outputs, triggers)"));
    }
}
