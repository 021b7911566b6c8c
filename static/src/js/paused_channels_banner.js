odoo.define('background_job.paused_channels_banner', function (require) {
"use strict";
/**
 * The Jobs list (js_class="background_job_list") shows a banner while a
 * channel is paused: its jobs stay pending until it is resumed.
 */
var core = require('web.core');
var ListRenderer = require('web.ListRenderer');
var ListView = require('web.ListView');
var viewRegistry = require('web.view_registry');

var _t = core._t;

var PausedChannelsRenderer = ListRenderer.extend({
    _renderView: function () {
        var self = this;
        var rendered = this._super.apply(this, arguments);
        this._rpc({model: 'queue.job.channel', method: 'paused_channel_names', args: []})
            .then(function (names) {
                self.$('.o_background_job_paused_banner').remove();
                if (!names.length) {
                    return;
                }
                var $banner = $('<div class="alert alert-warning o_background_job_paused_banner" role="alert"/>')
                    .text(_.str.sprintf(
                        _t('Paused channels: %s. Their jobs (and their subchannels\') do not start until they are resumed (Job Queue > Channels).'),
                        names.join(', ')));
                self.$el.prepend($banner);
            });
        return rendered;
    },
});

var BackgroundJobListView = ListView.extend({
    config: _.extend({}, ListView.prototype.config, {Renderer: PausedChannelsRenderer}),
});

viewRegistry.add('background_job_list', BackgroundJobListView);

return {PausedChannelsRenderer: PausedChannelsRenderer, BackgroundJobListView: BackgroundJobListView};
});
