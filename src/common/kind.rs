//! Closed sets of names read from the configuration (`kind = "slack"`, `events = [...]`):
//! one macro gives every such enum the same API (`ALL`, `as_str`, `FromStr`, `Display`).

/// A name that is not one of a set, with a suggestion or the list to choose from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not {what}: {hint}")]
pub struct UnknownName {
    /// What the set is, with its article (`a sink kind`, `an event`).
    pub what: &'static str,
    /// The name given.
    pub given: String,
    /// `did you mean "x"?`, or the names to use.
    pub hint: String,
}

impl UnknownName {
    /// `given` is not among `names` (each set's names and aliases).
    pub fn new(what: &'static str, given: &str, names: &[&str]) -> UnknownName {
        let hint = match crate::common::text::suggest(given.trim(), names) {
            Some(close) => format!("did you mean {close:?}?"),
            None => format!("use one of {}", names.join(", ")),
        };
        UnknownName {
            what,
            given: given.to_string(),
            hint,
        }
    }
}

/// Declares a fieldless enum whose variants are named in the configuration, with `ALL` (in
/// documentation order), `as_str` (the configuration's name), `Display` (the same) and
/// `FromStr` (case-insensitive, surrounding spaces ignored, aliases accepted; the error is an
/// [`UnknownName`] that suggests the closest name).
///
/// ```text
/// named_kinds! {
///     /// Which API a forge speaks.
///     pub enum ForgeKind: "a forge" {
///         /// GitHub.
///         GitHub = "github",
///         /// Gitea or Forgejo.
///         Gitea = "gitea" | "forgejo",
///     }
/// }
/// ```
macro_rules! named_kinds {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every kind, in the order the documentation lists them.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The name written in the configuration.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::common::kind::UnknownName;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text.trim().to_ascii_lowercase().as_str() {
                    $( $text $(| $alias)* => Ok($name::$variant), )+
                    _ => Err($crate::common::kind::UnknownName::new(
                        $what,
                        text,
                        &[$($text $(, $alias)*),+],
                    )),
                }
            }
        }
    };
}

pub(crate) use named_kinds;

#[cfg(test)]
mod tests {
    named_kinds! {
        /// A test set.
        pub enum Colour: "a colour" {
            /// Red.
            Red = "red",
            /// Green, also spelt the other way.
            Green = "green" | "grün",
        }
    }

    #[test]
    fn one_api() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::Green]);
        assert_eq!(Colour::Green.as_str(), "green");
        assert_eq!(Colour::Red.to_string(), "red");
        assert_eq!(" RED ".parse::<Colour>(), Ok(Colour::Red));
        assert_eq!("grün".parse::<Colour>(), Ok(Colour::Green));
        for kind in Colour::ALL {
            assert_eq!(kind.as_str().parse::<Colour>(), Ok(kind));
        }
        assert_eq!(
            "gren".parse::<Colour>().unwrap_err().to_string(),
            "\"gren\" is not a colour: did you mean \"green\"?"
        );
        assert_eq!(
            "blue".parse::<Colour>().unwrap_err().to_string(),
            "\"blue\" is not a colour: use one of red, green, grün"
        );
    }
}
