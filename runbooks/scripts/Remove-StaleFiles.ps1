# Deletes the files under $Path matching $Pattern that were last written more than $MaxAgeDays days ago.
# SupportsShouldProcess: `runbook run stale-files-cleanup-powershell --dry-run` runs this with -WhatIf, and the
# plan lists every file Remove-Item would delete, deleting none.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)] [string] $Path,
    [string] $Pattern = '*.log',
    [int] $MaxAgeDays = 7
)

$cutoff = (Get-Date).AddDays(-$MaxAgeDays)
$stale = @(Get-ChildItem -LiteralPath $Path -Filter $Pattern -File -Recurse | Where-Object LastWriteTime -lt $cutoff)
$freed = [long]($stale | Measure-Object -Property Length -Sum).Sum
foreach ($file in $stale) {
    Remove-Item -LiteralPath $file.FullName
}

[pscustomobject]@{ removed = $stale.Count; freed_bytes = $freed }
