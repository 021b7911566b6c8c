odoo.define('background_job.live_backend', function (require) {
"use strict";
/**
 * The live backend: while a Jobs, Batches or Workers list, a job or worker
 * form, or the Job Queue app's menu (its failed-jobs badge) is on screen, ask the
 * server once a second whether jobs or workers changed (/background_job/
 * changes: two sequence reads), and only then reload the view and the
 * badge. At most one request a second per browser tab, never two at once,
 * none while the tab is hidden; at most one reload a second per open view,
 * however many jobs change. The bus is not used: 1,000 changes a second
 * cost the same as one.
 *
 * A change marker can move just before its transaction commits: the tick
 * after a change reloads once more, so a view never keeps the state of a
 * moment before the last change.
 */
var ajax = require('web.ajax');
var core = require('web.core');
var Loading = require('web.Loading');
var WebClient = require('web.WebClient');

var _t = core._t;
var INTERVAL = 1000;  // ms between polls
var STALE = 10000;  // ms after which a poll that never ended no longer blocks the next
// the models whose list and form views are live, and the markers they follow
var LIVE_MODELS = {
    'queue.job': ['jobs'],
    'queue.job.worker': ['workers', 'jobs'],  // its list counts running jobs
};
var JOBS_MENU = 'a[data-menu-xmlid="background_job.queue_job_menu"]';

// While a live reload runs (a fraction of a second), requests neither show
// "Loading" nor block the screen after 3 s, as the user's own requests do:
// nobody asked for it.
var reloading = false;
var quietRequests = 0;
Loading.include({
    request_call: function () {
        if (reloading) {
            quietRequests += 1;
            return;
        }
        return this._super.apply(this, arguments);
    },
    response_call: function () {
        if (quietRequests) {
            quietRequests -= 1;
            return;
        }
        return this._super.apply(this, arguments);
    },
});

WebClient.include({
    show_application: function () {
        var result = this._super.apply(this, arguments);
        this._backgroundJobLive = {markers: null, settle: false, deferred: false, busy: false};
        this._backgroundJobTimer = setInterval(this._backgroundJobTick.bind(this), INTERVAL);
        return result;
    },

    destroy: function () {
        clearInterval(this._backgroundJobTimer);
        return this._super.apply(this, arguments);
    },

    /** The controller of the live list or readonly form on screen, if any. */
    _backgroundJobController: function () {
        var widget = this.action_manager && this.action_manager.get_inner_widget();
        var view = widget && widget.active_view;
        var controller = view && view.controller;
        if (!controller || !LIVE_MODELS[controller.modelName] ||
                !_.contains(['list', 'form'], view.type) ||
                (view.type === 'form' && controller.mode !== 'readonly')) {
            return null;
        }
        return controller;
    },

    _backgroundJobTick: function () {
        var live = this._backgroundJobLive;
        var controller = this._backgroundJobController();
        // the badge counts while the Job Queue app's menu is shown (every
        // app's menu is in the page, hidden but for the current app's)
        var $menu = $(JOBS_MENU).filter(':visible');
        if (!controller && !$menu.length) {
            live.markers = null;  // nothing live on screen: start afresh later
            return;
        }
        // a poll (and its reload) in flight; one that hangs is given up after STALE
        if ((live.busy && Date.now() - live.busy < STALE) || document.hidden) {
            return;
        }
        live.busy = Date.now();
        var previous = live.markers;
        var params = {failed_since: live.settle || !previous ? null : previous.jobs};
        var self = this;
        ajax.jsonRpc('/background_job/changes', 'call', params, {shadow: true}).then(function (markers) {
            var moved = function (kind) {
                return previous && markers[kind] !== previous[kind];
            };
            var changed = controller && _.some(LIVE_MODELS[controller.modelName], moved);
            // the first poll on a live view cannot know what changed since the
            // view loaded: it reloads once
            var due = controller && (!previous || changed || live.settle || live.deferred);
            // not under a user who selected rows to act on: once they are unselected
            var reload = due && controller === self._backgroundJobController() &&
                !(controller.selectedRecords && controller.selectedRecords.length);
            live.deferred = due && !reload;
            live.settle = changed || moved('jobs');
            live.markers = markers;
            if (markers.failed !== null) {
                self._backgroundJobBadge($menu, markers.failed);
            }
            if (!reload) {
                return null;
            }
            reloading = true;
            return controller.reload();
        }).always(function () {
            live.busy = reloading = false;
        });
    },

    /** Show ``count`` failed jobs on the Jobs menu (none: no badge). */
    _backgroundJobBadge: function ($menu, count) {
        $menu.find('.o_background_job_failed_badge').remove();
        if (count) {
            $menu.find('.oe_menu_text').after($('<span>', {
                'class': 'badge o_background_job_failed_badge',
                'title': _t('Failed jobs'), 'text': count,
            }));
        }
    },
});

});
