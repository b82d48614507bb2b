//! Reading contract 2.0.0's packed input (`wit/v2/policy.wit`) into an [`Input`],
//! in place: the strings of the previous decision's input are reused, so after
//! the first few decisions this allocates nothing.

use crate::{ExecutionStatus, Input, MaintenanceState};

/// The statuses in the order the packed counts come in.
const UNFINISHED: [ExecutionStatus; 7] = [
    ExecutionStatus::Pending,
    ExecutionStatus::Started,
    ExecutionStatus::Cancelling,
    ExecutionStatus::ForceCancelling,
    ExecutionStatus::KillCancelling,
    ExecutionStatus::Queued,
    ExecutionStatus::Scheduled,
];

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("packed input ends early");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn str(&mut self) -> Result<&'a str, &'static str> {
        let n = self.u32()? as usize;
        core::str::from_utf8(self.take(n)?).map_err(|_| "packed input string is not UTF-8")
    }

    fn str_into(&mut self, out: &mut String) -> Result<(), &'static str> {
        let s = self.str()?;
        out.clear();
        out.push_str(s);
        Ok(())
    }
}

/// Overwrite `input` with the packed input in `bytes`.
pub fn unpack_into(bytes: &[u8], input: &mut Input) -> Result<(), &'static str> {
    let mut r = Reader(bytes);
    if r.take(4)? != b"dd\x02\x00" {
        return Err("packed input without the 2.0.0 magic");
    }
    input.state = match r.u8()? {
        0 => MaintenanceState::Deactivated,
        1 => MaintenanceState::Activating,
        2 => MaintenanceState::Activated,
        _ => return Err("packed input with an unknown maintenance state"),
    };
    input.caller.bypass = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err("packed input with a bypass flag other than 0 or 1"),
    };
    input.executions.by_status.clear();
    let mut total = 0u32;
    for status in UNFINISHED {
        let n = r.u32()?;
        if n > 0 {
            input.executions.by_status.push((status, n));
            total = total.saturating_add(n);
        }
    }
    input.executions.total = total;
    let req = &mut input.request;
    for field in [&mut req.method, &mut req.path, &mut req.route, &mut req.first_segment] {
        r.str_into(field)?;
    }
    r.str_into(&mut input.caller.username)?;
    r.str_into(&mut input.caller.role)?;
    let count = r.u32()? as usize;
    // Each attribute takes at least 8 bytes: a count beyond that is a lie.
    if count > r.0.len() / 8 {
        return Err("packed input with more attributes than bytes");
    }
    input.attributes.truncate(count);
    for i in 0..count {
        let (k, v) = (r.str()?, r.str()?);
        match input.attributes.get_mut(i) {
            Some((key, value)) => {
                key.clear();
                key.push_str(k);
                value.clear();
                value.push_str(v);
            }
            None => input.attributes.push((k.into(), v.into())),
        }
    }
    if !r.0.is_empty() {
        return Err("packed input with bytes after the last attribute");
    }
    Ok(())
}

impl Input {
    /// An input with every string empty, for [`unpack_into`] to fill.
    pub fn empty() -> Input {
        Input {
            request: crate::Request { method: String::new(), path: String::new(), route: String::new(), first_segment: String::new() },
            caller: crate::Caller { username: String::new(), role: String::new(), bypass: false },
            state: MaintenanceState::Deactivated,
            executions: Default::default(),
            attributes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes `wit/v2/policy.wit` describes (the host's packer is tested against
    /// the same layout in drydock-engine).
    fn packed(attrs: &[(&str, &str)]) -> Vec<u8> {
        let mut b: Vec<u8> = b"dd\x02\x00".to_vec();
        b.extend([1, 1]);
        for n in [0u32, 2, 0, 0, 0, 0, 1] {
            b.extend(n.to_le_bytes());
        }
        let str = |b: &mut Vec<u8>, s: &str| {
            b.extend((s.len() as u32).to_le_bytes());
            b.extend(s.as_bytes());
        };
        for s in ["POST", "/api/v3.1/executions", "executions", "executions", "al", "sys_admin"] {
            str(&mut b, s);
        }
        b.extend((attrs.len() as u32).to_le_bytes());
        for (k, v) in attrs {
            str(&mut b, k);
            str(&mut b, v);
        }
        b
    }

    #[test]
    fn unpacks_every_field_and_reuses_the_previous_input() {
        let mut input = Input::empty();
        input.attributes = vec![("old".into(), "x".into()); 3];
        unpack_into(&packed(&[("t", "x"), ("r", "why")]), &mut input).unwrap();
        assert_eq!(input.state, MaintenanceState::Activating);
        assert!(input.caller.bypass);
        assert_eq!(input.executions.total, 3);
        assert_eq!(input.executions.by_status, [(ExecutionStatus::Started, 2), (ExecutionStatus::Scheduled, 1)]);
        assert_eq!(
            (input.request.method.as_str(), input.request.path.as_str(), input.request.route.as_str(), input.request.first_segment.as_str()),
            ("POST", "/api/v3.1/executions", "executions", "executions")
        );
        assert_eq!((input.caller.username.as_str(), input.caller.role.as_str()), ("al", "sys_admin"));
        assert_eq!(input.attributes, [("t".to_string(), "x".to_string()), ("r".into(), "why".into())]);
        unpack_into(&packed(&[]), &mut input).unwrap();
        assert!(input.attributes.is_empty());
    }

    #[test]
    fn refuses_what_a_host_never_sends() {
        let mut input = Input::empty();
        let good = packed(&[("k", "v")]);
        for cut in 0..good.len() {
            assert!(unpack_into(&good[..cut], &mut input).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(unpack_into(&trailing, &mut input).is_err());
        let mut state = good.clone();
        state[4] = 3;
        assert!(unpack_into(&state, &mut input).is_err());
        let mut magic = good.clone();
        magic[2] = 1;
        assert!(unpack_into(&magic, &mut input).is_err());
        let mut huge = packed(&[]);
        let at = huge.len() - 4;
        huge[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unpack_into(&huge, &mut input).is_err());
    }
}
