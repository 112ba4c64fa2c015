//! The terminal view: the same [`Snapshot`] the page shows, drawn with
//! ratatui on its crossterm backend, for machines without a browser.
//!
//! [`Dashboard`] is a ratatui widget, so it also draws into any ratatui
//! terminal or test backend; [`ObserverHandle::run_terminal`] runs it
//! full-screen on the process's own terminal until a key quits it.

use std::io::{self, Stdout};
use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::ExecutableCommand;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, HighlightSpacing, Paragraph, Row, Sparkline, StatefulWidget, Table, TableState, Widget, Wrap,
};

use crate::ObserverHandle;
use crate::snapshot::{ActorView, Shared, Snapshot};

/// The ratatui this crate draws with, for embedding [`Dashboard`] in an
/// application's own terminal UI.
pub use ratatui;

/// How often the full-screen view redraws.
const REDRAW: Duration = Duration::from_millis(250);

/// The observer's terminal view of one [`Snapshot`], as a ratatui widget:
/// a summary line with the total message rate over the recent windows, the
/// actor tree (mailbox, messages per second, handled, restarts, state, last
/// panic), the selected actor's details (its last panic with the flight
/// record, its restart times, its rate history) and the dead letters
/// grouped by reason, target and message type.
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_observer::Observer;
/// use actor_observer::tui::Dashboard;
/// use actor_observer::tui::ratatui::{Terminal, backend::TestBackend};
///
/// # struct Echo;
/// # impl Actor for Echo { type Error = std::convert::Infallible; }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let system = ActorSystem::builder().observe(true).build();
/// let _echo = system.spawn_with(Echo, SpawnOptions::new().name("echo"));
/// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
///
/// let snapshot = observer.snapshot();
/// let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("a test backend does not fail");
/// terminal.draw(|frame| frame.render_widget(Dashboard::new(&snapshot).select(Some(0)), frame.area())).unwrap();
/// let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
/// assert!(screen.contains("echo"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Dashboard<'a> {
    snapshot: &'a Snapshot,
    selected: Option<usize>,
    title: Option<&'a str>,
}

impl<'a> Dashboard<'a> {
    /// The view of `snapshot`, with no actor selected.
    ///
    /// # Examples
    ///
    /// (`screen` draws a widget on a 100x30 ratatui `TestBackend` and
    /// returns the text on it.)
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_observer::Observer;
    /// use actor_observer::tui::Dashboard;
    /// # use actor_observer::tui::ratatui::{Terminal, backend::TestBackend};
    ///
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # /// Draws `dashboard` on a 100x30 test terminal and returns its text.
    /// # fn screen(dashboard: Dashboard<'_>) -> String {
    /// #     let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    /// #     terminal.draw(|frame| frame.render_widget(dashboard, frame.area())).unwrap();
    /// #     terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect()
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let _worker = system.spawn_with(Worker, SpawnOptions::new().name("worker"));
    /// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
    ///
    /// let snapshot = observer.snapshot();
    /// let text = screen(Dashboard::new(&snapshot));
    /// assert!(text.contains("live actors 1"));
    /// assert!(text.contains("worker"));
    /// assert!(text.contains("select an actor")); // nothing selected yet
    /// # Ok(()) }
    /// ```
    pub fn new(snapshot: &'a Snapshot) -> Self {
        Dashboard { snapshot, selected: None, title: None }
    }

    /// Selects the actor at `index` in [`Snapshot::actors`]: its row is
    /// highlighted and its details shown (an index past the end selects
    /// the last actor).
    ///
    /// # Examples
    ///
    /// (`screen` draws a widget on a 100x30 ratatui `TestBackend` and
    /// returns the text on it.)
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_observer::Observer;
    /// use actor_observer::tui::Dashboard;
    /// # use actor_observer::tui::ratatui::{Terminal, backend::TestBackend};
    ///
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # /// Draws `dashboard` on a 100x30 test terminal and returns its text.
    /// # fn screen(dashboard: Dashboard<'_>) -> String {
    /// #     let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    /// #     terminal.draw(|frame| frame.render_widget(dashboard, frame.area())).unwrap();
    /// #     terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect()
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let _first = system.spawn_with(Worker, SpawnOptions::new().name("first"));
    /// let _second = system.spawn_with(Worker, SpawnOptions::new().name("second"));
    /// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
    /// let snapshot = observer.snapshot();
    ///
    /// let text = screen(Dashboard::new(&snapshot).select(Some(0)));
    /// assert!(text.contains("> first")); // highlighted
    /// assert!(text.contains("no panic")); // and its details shown
    ///
    /// let text = screen(Dashboard::new(&snapshot).select(Some(99))); // past the end: the last
    /// assert!(text.contains("> second"));
    /// # Ok(()) }
    /// ```
    pub fn select(mut self, index: Option<usize>) -> Self {
        self.selected = index;
        self
    }

    /// A title for the summary line, such as the page's address.
    ///
    /// # Examples
    ///
    /// (`screen` draws a widget on a 100x30 ratatui `TestBackend` and
    /// returns the text on it.)
    ///
    /// ```
    /// use actor_core::prelude::*;
    /// use actor_observer::Observer;
    /// use actor_observer::tui::Dashboard;
    /// # use actor_observer::tui::ratatui::{Terminal, backend::TestBackend};
    ///
    /// # struct Worker;
    /// # impl Actor for Worker { type Error = std::convert::Infallible; }
    /// # /// Draws `dashboard` on a 100x30 test terminal and returns its text.
    /// # fn screen(dashboard: Dashboard<'_>) -> String {
    /// #     let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    /// #     terminal.draw(|frame| frame.render_widget(dashboard, frame.area())).unwrap();
    /// #     terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect()
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
    /// let snapshot = observer.snapshot();
    /// let url = observer.url();
    /// let text = screen(Dashboard::new(&snapshot).title(&url));
    /// assert!(text.contains(&format!("actor observer: {url}")));
    /// # Ok(()) }
    /// ```
    pub fn title(mut self, title: &'a str) -> Self {
        self.title = Some(title);
        self
    }

    fn selected_actor(&self) -> Option<(usize, &'a ActorView)> {
        let last = self.snapshot.actors.len().checked_sub(1)?;
        let index = self.selected?.min(last);
        Some((index, &self.snapshot.actors[index]))
    }
}

impl Widget for Dashboard<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [summary, actors, bottom] =
            Layout::vertical([Constraint::Length(4), Constraint::Min(6), Constraint::Percentage(40)]).areas(area);
        self.render_summary(summary, buf);
        self.render_actors(actors, buf);
        let [details, letters] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
        self.render_details(details, buf);
        self.render_dead_letters(letters, buf);
    }
}

impl Dashboard<'_> {
    fn render_summary(&self, area: Rect, buf: &mut Buffer) {
        let s = self.snapshot;
        let title = match self.title {
            Some(t) => format!(" actor observer: {t} "),
            None => " actor observer ".to_owned(),
        };
        let block = Block::bordered().title(title).title_bottom(" q: quit   \u{2191}/\u{2193}: select an actor ");
        let inner = block.inner(area);
        block.render(area, buf);
        let [text, spark] = Layout::horizontal([Constraint::Length(72), Constraint::Min(0)]).areas(inner);
        let mut line = vec![
            Span::raw(format!("live actors {}   ", s.live)),
            Span::raw(format!("messages/s {:.1}   ", s.total_rate)),
            Span::raw(format!("dead letters {}   ", s.dead_letters)),
            Span::raw(format!("uptime {:.1} s", s.uptime_ms as f64 / 1000.0)),
        ];
        if s.dead_letters_missed > 0 {
            line.push(Span::raw(format!("   ({} missed)", s.dead_letters_missed)));
        }
        let rate = Line::from(vec![Span::styled("msgs/s history \u{2192}", Style::new().fg(Color::DarkGray))]);
        Paragraph::new(vec![Line::from(line), rate]).render(text, buf);
        Sparkline::default().data(scaled(&s.rate_history)).style(Style::new().fg(Color::Green)).render(spark, buf);
    }

    fn render_actors(&self, area: Rect, buf: &mut Buffer) {
        let header = Row::new(["actor", "type", "mailbox", "msgs/s", "handled", "restarts", "state", "last panic"])
            .style(Style::new().add_modifier(Modifier::BOLD));
        let rows = self.snapshot.actors.iter().map(|a| {
            let indent = "  ".repeat(a.depth);
            let tree = if a.depth > 0 { "\u{2514} " } else { "" };
            let panic = a.last_panic.as_ref().map_or(String::new(), |p| p.message.clone());
            let row = Row::new([
                format!("{indent}{tree}{}", a.name.as_deref().unwrap_or("(unnamed)")),
                short_type(&a.actor_type).to_owned(),
                a.mailbox_len.to_string(),
                format!("{:.1}", a.rate),
                a.processed.to_string(),
                a.restarts.to_string(),
                a.state.clone(),
                panic,
            ]);
            if a.restarts > 0 || a.last_panic.is_some() { row.style(Style::new().fg(Color::Red)) } else { row }
        });
        let widths = [
            Constraint::Min(16),
            Constraint::Length(18),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Min(10),
        ];
        let table = Table::new(rows, widths)
            .header(header)
            .block(Block::bordered().title(format!(" actors ({}) ", self.snapshot.actors.len())))
            .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
            .highlight_symbol("> ")
            .highlight_spacing(HighlightSpacing::Always);
        let mut state = TableState::default().with_selected(self.selected_actor().map(|(i, _)| i));
        StatefulWidget::render(table, area, buf, &mut state);
    }

    fn render_details(&self, area: Rect, buf: &mut Buffer) {
        let Some((_, actor)) = self.selected_actor() else {
            Paragraph::new("select an actor with \u{2191}/\u{2193}")
                .block(Block::bordered().title(" actor "))
                .render(area, buf);
            return;
        };
        let now = self.snapshot.now_unix_ms;
        let name = actor.name.as_deref().unwrap_or("(unnamed)");
        let block = Block::bordered().title(format!(" {name} "));
        let inner = block.inner(area);
        block.render(area, buf);
        let [text, spark] = Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(inner);

        let dim = Style::new().fg(Color::DarkGray);
        let mut lines = vec![Line::from(vec![Span::styled(format!("{} {}", actor.actor_type, actor.id), dim)])];
        if actor.restarts_unix_ms.is_empty() {
            lines.push(Line::raw(format!("restarts: {}", actor.restarts)));
        } else {
            let times: Vec<String> = actor.restarts_unix_ms.iter().rev().take(5).map(|&t| ago(now, t)).collect();
            lines.push(Line::raw(format!("restarts: {} (last: {})", actor.restarts, times.join(", "))));
        }
        match &actor.last_panic {
            None => lines.push(Line::raw("no panic")),
            Some(p) => {
                let red = Style::new().fg(Color::Red);
                lines.push(Line::from(vec![Span::styled(format!("last panic {}: ", ago(now, p.at_unix_ms)), red)]));
                lines.push(Line::from(vec![Span::styled(p.message.clone(), red.add_modifier(Modifier::BOLD))]));
                if let Some(m) = &p.message_type {
                    lines.push(Line::raw(format!("while handling {}", short_type(m))));
                }
                if !p.flight_record.is_empty() {
                    lines.push(Line::raw("flight record, oldest first:"));
                    for r in &p.flight_record {
                        let what = r.rendering.as_deref().unwrap_or(short_type(&r.message_type));
                        lines.push(Line::raw(format!("  {what}")));
                    }
                }
            }
        }
        Paragraph::new(lines).wrap(Wrap { trim: false }).render(text, buf);
        Sparkline::default().data(scaled(&actor.rate_history)).style(Style::new().fg(Color::Green)).render(spark, buf);
    }

    fn render_dead_letters(&self, area: Rect, buf: &mut Buffer) {
        let now = self.snapshot.uptime_ms;
        let lines: Vec<Line<'_>> = self
            .snapshot
            .dead_letter_groups
            .iter()
            .map(|g| {
                let to = match (&g.name, &g.recipient) {
                    (Some(name), _) => format!("\"{name}\""),
                    (None, Some(id)) => id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect(),
                    (None, None) => "?".to_owned(),
                };
                let last = now.saturating_sub(g.last_at_ms) as f64 / 1000.0;
                Line::from(vec![
                    Span::styled(format!("{:>5}\u{d7} ", g.count), Style::new().add_modifier(Modifier::BOLD)),
                    Span::styled(format!("{} ", g.reason), Style::new().fg(Color::Red)),
                    Span::raw(format!(
                        "{} \u{2192} {to} ({}) ",
                        short_type(&g.message_type),
                        short_type(&g.actor_type)
                    )),
                    Span::styled(format!("last {last:.1} s ago"), Style::new().fg(Color::DarkGray)),
                ])
            })
            .collect();
        let title = format!(" dead letters: {} in {} groups ", self.snapshot.dead_letters, lines.len());
        let block = Block::bordered().title(title);
        if lines.is_empty() {
            Paragraph::new("none yet").block(block).render(area, buf);
        } else {
            Paragraph::new(lines).block(block).render(area, buf);
        }
    }
}

/// Rates as the sparkline's integer bars, in tenths of a message per
/// second so that low rates still show.
fn scaled(rates: &[f64]) -> Vec<u64> {
    rates.iter().map(|r| (r * 10.0).round().max(0.0) as u64).collect()
}

/// `a::b::Worker` -> `Worker` (generic arguments kept whole).
fn short_type(path: &str) -> &str {
    let end = path.find('<').unwrap_or(path.len());
    path[..end].rfind("::").map_or(path, |i| &path[i + 2..])
}

/// `t` (ms since the epoch) relative to `now`, as "3.2 s ago".
fn ago(now: u64, t: u64) -> String {
    format!("{:.1} s ago", now.saturating_sub(t) as f64 / 1000.0)
}

impl ObserverHandle {
    /// Shows the observer full-screen on this process's terminal (raw mode,
    /// alternate screen) and redraws it four times a second, until `q`,
    /// `Esc` or `Ctrl-C` (which raw mode delivers as a key, not a signal);
    /// `↑`/`↓` (or `k`/`j`) select an actor. The terminal is put back on
    /// return, also when the view itself fails or panics; no panic hook is
    /// installed, since the actors' caught panics must not end the view.
    /// The page and the JSON stay served meanwhile. Runs on a blocking
    /// thread.
    ///
    /// # Errors
    ///
    /// If the terminal cannot be set up (standard output is not a
    /// terminal), read or written.
    ///
    /// # Examples
    ///
    /// Not run here: it takes over the terminal until a key is pressed.
    ///
    /// ```no_run
    /// use actor_core::ActorSystem;
    /// use actor_observer::Observer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let system = ActorSystem::builder().observe(true).build();
    /// let observer = Observer::serve(&system, "127.0.0.1:0").await?;
    /// observer.run_terminal().await?; // returns when `q` is pressed
    /// observer.stop().await;
    /// # Ok(()) }
    /// ```
    pub async fn run_terminal(&self) -> io::Result<()> {
        let shared = self.shared.clone();
        let title = self.url();
        match tokio::task::spawn_blocking(move || terminal_loop(&shared, &title)).await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

fn terminal_loop(shared: &Arc<Shared>, title: &str) -> io::Result<()> {
    let mut screen = Screen::enter()?;
    let mut selected: Option<usize> = None;
    loop {
        let snapshot = shared.snapshot();
        if let Some(i) = selected {
            selected = Some(i.min(snapshot.actors.len().saturating_sub(1)));
        }
        screen.terminal.draw(|frame| {
            frame.render_widget(Dashboard::new(&snapshot).select(selected).title(title), frame.area());
        })?;
        if !event::poll(REDRAW)? {
            continue;
        }
        let Event::Key(key) = event::read()? else { continue };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        let last = snapshot.actors.len().saturating_sub(1);
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => break,
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => break,
            KeyCode::Down | KeyCode::Char('j') => selected = Some(selected.map_or(0, |i| (i + 1).min(last))),
            KeyCode::Up | KeyCode::Char('k') => selected = Some(selected.map_or(0, |i| i.saturating_sub(1))),
            _ => {}
        }
    }
    screen.leave()
}

/// The terminal in raw mode on the alternate screen, put back when dropped.
///
/// Set up by hand rather than with `ratatui::init`, whose panic hook
/// restores the terminal on every panic in the process: an actor's panic
/// is caught and routine, and must not tear the view down.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    left: bool,
}

impl Screen {
    fn enter() -> io::Result<Self> {
        terminal::enable_raw_mode()?;
        if let Err(e) = io::stdout().execute(EnterAlternateScreen) {
            let _ = terminal::disable_raw_mode();
            return Err(e);
        }
        // From here on, dropping `screen` puts the terminal back.
        let mut screen = Screen { terminal: Terminal::new(CrosstermBackend::new(io::stdout()))?, left: false };
        screen.terminal.clear()?;
        Ok(screen)
    }

    fn leave(mut self) -> io::Result<()> {
        self.left = true;
        restore(&mut self.terminal)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if !self.left {
            let _ = restore(&mut self.terminal);
        }
    }
}

fn restore(terminal: &mut Terminal<CrosstermBackend<Stdout>>) -> io::Result<()> {
    let raw = terminal::disable_raw_mode();
    let screen = terminal.backend_mut().execute(LeaveAlternateScreen).map(drop);
    let cursor = terminal.show_cursor();
    raw.and(screen).and(cursor)
}
