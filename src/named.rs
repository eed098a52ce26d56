//! Enums of named choices (a status stored by name, a model or strategy chosen by name on the
//! command line): their `Display` and `FromStr` from one list of names.

/// `Display` (the value's name) and `FromStr` (a value by its name; an unknown name is an
/// error listing the known ones) for `$ty`, an enum with an `ALL` array and a
/// `$name(self) -> &'static str` method. `$make_error` turns the message into `$error`.
macro_rules! named_choices {
    ($ty:ty, $name:ident, $what:literal, $error:ty, $make_error:expr) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.$name())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|value| value.$name() == text.trim())
                    .ok_or_else(|| {
                        let names: Vec<&str> = Self::ALL.iter().map(|v| v.$name()).collect();
                        $make_error(format!(
                            "unknown {} {text:?}: expected {}",
                            $what,
                            $crate::named::one_of(&names)
                        ))
                    })
            }
        }
    };
}

/// `a, b or c`.
pub(crate) fn one_of(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
