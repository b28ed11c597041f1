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
///
/// With `, fn NAME -> dyn TRAIT` after the description and `=> VALUE` after each name, it
/// also gives `NAME(self) -> &'static dyn TRAIT`: the implementation registered for each kind,
/// so that the list is the one place a new kind is registered.
///
/// ```text
/// named_kinds! {
///     /// Which registry's webhook format a hook accepts.
///     pub enum WebhookKind: "a webhook kind", fn format -> dyn Format {
///         /// Docker Hub.
///         DockerHub = "dockerhub" => dockerhub::DockerHub,
///     }
/// }
/// ```
macro_rules! named_kinds {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $what:literal, fn $getter:ident -> dyn $trait:path {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)* => $imp:expr ),+ $(,)?
        }
    ) => {
        $crate::common::kind::named_kinds! {
            $(#[$meta])*
            $vis enum $name: $what {
                $( $(#[$vmeta])* $variant = $text $(| $alias)* ),+
            }
        }

        impl $name {
            /// The implementation registered for this kind.
            pub fn $getter(self) -> &'static dyn $trait {
                match self {
                    $( $name::$variant => &$imp ),+
                }
            }
        }
    };
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

    pub trait Hue {
        fn degrees(&self) -> u16;
    }

    struct Blue;

    impl Hue for Blue {
        fn degrees(&self) -> u16 {
            240
        }
    }

    named_kinds! {
        /// A test set with an implementation per kind.
        pub enum Paint: "a paint", fn hue -> dyn Hue {
            /// Blue.
            Blue = "blue" => Blue,
        }
    }

    #[test]
    fn registered_implementations() {
        assert_eq!(Paint::Blue.hue().degrees(), 240);
        assert_eq!("blue".parse::<Paint>(), Ok(Paint::Blue));
        assert_eq!(Paint::ALL, [Paint::Blue]);
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
