//! What a member's line does: a message for everyone, or a command (`/nick`, `/who`, `/quit`).
//! Lesson 06's rules for names and text, used by its name.

use crate::kit::narrate::narrate;
use crate::lessons::l06_group_chat::text;

use super::Room;

/// What the reader does next.
#[derive(PartialEq, Eq)]
pub(super) enum Act {
    Continue,
    Quit,
}

impl Room<'_> {
    /// One line from member `id`: a command, or a message for everyone.
    pub(super) fn act_on(&mut self, id: usize, text: &str) -> Act {
        if text == "quit" {
            return Act::Quit; // the course's command, kept so its clients still work
        }
        let Some(command) = text.strip_prefix('/') else {
            let name = self.name_of(id);
            // Lesson 06's rule: text, never instructions for anyone's terminal.
            let text = text::visible(text);
            narrate!(
                self.broadcasts,
                note(|| format!("[{name}] {text} → everyone"))
            );
            self.broadcast(&format!("[{name}] {text}"));
            return Act::Continue;
        };
        let (word, argument) = command.split_once(' ').unwrap_or((command, ""));
        match word {
            "quit" => return Act::Quit,
            "who" => {
                let names: Vec<&str> = self
                    .conns
                    .values()
                    .filter(|c| c.member)
                    .map(|c| c.name.as_str())
                    .collect();
                let list = format!("* online: {}", names.join(", "));
                self.tell(id, &list);
            }
            "nick" => match self.rename(id, argument.trim()) {
                Ok(old) => {
                    let notice = format!("* {old} is now {}", argument.trim());
                    narrate!(self.say, note(&notice));
                    self.broadcast(&notice);
                }
                Err(error) => self.tell(id, &error),
            },
            _ => self.tell(id, &format!("! unknown command /{}", text::visible(word))),
        }
        Act::Continue
    }

    pub(super) fn name_of(&self, id: usize) -> String {
        self.conns
            .get(&id)
            .map(|c| c.name.clone())
            .unwrap_or_default()
    }

    /// `/nick NEW`: rename member `id`, unless the name is taken or not a valid name.
    /// Lesson 06's rules: the name grammar, and no name that looks like a member's.
    fn rename(&mut self, id: usize, new: &str) -> Result<String, String> {
        text::check_name(new)?;
        let key = text::look_alike_key(new);
        if self
            .conns
            .values()
            .any(|c| c.member && text::look_alike_key(&c.name) == key)
        {
            return Err(format!("! the name {new} is already in use"));
        }
        let conn = self
            .conns
            .get_mut(&id)
            .ok_or_else(|| "! you are not in the room".to_string())?;
        Ok(std::mem::replace(&mut conn.name, new.to_string()))
    }
}
