// A script without its metadata block: list and validate could not say what it is.
await Shell("probe", ["true"]);
