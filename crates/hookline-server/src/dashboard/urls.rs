//! The one place dashboard paths are built, so links and routes agree.

/// Paths under `/dashboard` for one account.
pub(crate) struct Urls<'a> {
    pub(crate) account: &'a str,
}

impl Urls<'_> {
    /// Where an account's user lands.
    pub(crate) fn home(&self) -> String {
        self.endpoints()
    }

    pub(crate) fn endpoints(&self) -> String {
        format!("/dashboard/accounts/{}/endpoints", self.account)
    }

    pub(crate) fn new_endpoint(&self) -> String {
        format!("{}/new", self.endpoints())
    }

    pub(crate) fn endpoint(&self, id: &str) -> String {
        format!("{}/{id}", self.endpoints())
    }

    pub(crate) fn events(&self) -> String {
        format!("/dashboard/accounts/{}/events", self.account)
    }

    pub(crate) fn event(&self, id: &str) -> String {
        format!("{}/{id}", self.events())
    }

    pub(crate) fn attempt(&self, id: &str) -> String {
        format!("/dashboard/accounts/{}/attempts/{id}", self.account)
    }
}

pub(crate) const LOGIN: &str = "/dashboard/login";
pub(crate) const LOGOUT: &str = "/dashboard/logout";
pub(crate) const ACCOUNTS: &str = "/dashboard/accounts";
/// The admin's operational webhooks: the platform account's endpoint pages.
pub(crate) const OPERATIONAL: &str = "/dashboard/operational";
